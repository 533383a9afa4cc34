module github.com/smsconv/smsconv/services/harness

go 1.26.8

require github.com/smsconv/smsconv/shared v0.0.0

replace github.com/smsconv/smsconv/shared => ../../shared
