package fakeapi

import "github.com/smsconv/smsconv/shared/telnyx"

// The development key pair (telnyx.DevSeed, telnyx.DevPublicKey): the sandbox signs webhooks with DevSeed and an
// ingress configured with DevPublicKey accepts them. It is not a secret and never signs anything Telnyx sends;
// make run, docker-compose.yml and the tests use it so a local stack works without generating keys. A test
// checks docker-compose.yml against these.
const (
	// DevSeed is the base64 32-byte Ed25519 seed, the value of SANDBOX_PRIVATE_KEY.
	DevSeed = telnyx.DevSeed
	// DevPublicKey is DevSeed's public key in base64, the value of TELNYX_PUBLIC_KEY.
	DevPublicKey = telnyx.DevPublicKey
)
