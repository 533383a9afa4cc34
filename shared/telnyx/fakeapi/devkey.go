package fakeapi

// The development key pair: the sandbox signs webhooks with DevSeed and an ingress configured with DevPublicKey
// accepts them. It is not a secret and never signs anything Telnyx sends; make run, docker-compose.yml and the
// tests use it so a local stack works without generating keys. A test checks docker-compose.yml against these.
const (
	// DevSeed is the base64 32-byte Ed25519 seed, the value of SANDBOX_PRIVATE_KEY.
	DevSeed = "iQ8P2D08rTwo92xEJdrUj6uHF3UqU4HFnujmcgSrOOM="
	// DevPublicKey is DevSeed's public key in base64, the value of TELNYX_PUBLIC_KEY.
	DevPublicKey = "umCOc2VjdNEpjmkjvhPR0+YcQJV0knfDre221Ooeh3c="
)
