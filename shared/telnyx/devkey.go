package telnyx

// The development key pair: the sandbox signs webhooks with DevSeed and an ingress configured with DevPublicKey
// accepts them. Its private half is published in this repository, so it proves nothing: the services refuse
// DevPublicKey unless TELNYX_API_URL is a sandbox. It lives here, in a package the products link anyway, so the
// ingress can recognise it without linking the fake Telnyx (fakeapi re-exports it for the sandbox and tests).
const (
	// DevSeed is the base64 32-byte Ed25519 seed, the value of SANDBOX_PRIVATE_KEY.
	DevSeed = "iQ8P2D08rTwo92xEJdrUj6uHF3UqU4HFnujmcgSrOOM="
	// DevPublicKey is DevSeed's public key in base64, the value of TELNYX_PUBLIC_KEY in development.
	DevPublicKey = "umCOc2VjdNEpjmkjvhPR0+YcQJV0knfDre221Ooeh3c="
)
