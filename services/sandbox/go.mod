module github.com/smsconv/smsconv/services/sandbox

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	github.com/smsconv/smsconv/shared v0.0.0
)

require (
	github.com/caarlos0/env/v11 v11.4.2 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	github.com/nyaruka/phonenumbers v1.8.1 // indirect
	github.com/oasisprotocol/curve25519-voi v0.0.0-20230904125328-1f23a7beb09a // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/smsconv/smsconv/shared => ../../shared
