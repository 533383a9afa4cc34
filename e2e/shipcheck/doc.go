// Package shipcheck holds tests about what the shipped binaries link: a product must not carry test code (the
// testing package registers test flags and httptest listens where nobody configured it).
package shipcheck
