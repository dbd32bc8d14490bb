// Package apistub is a stand-in Kubernetes API server for integration tests
// of crio-credential-provider: HTTPS on 127.0.0.1 with certificates made
// on the spot, the four reads a credential provider makes (pods,
// serviceaccounts, secrets by name, secrets listed by type), Status objects
// on errors, bearer-token checks, injected faults, and a record of every
// request. It also forges the pod-bound service-account tokens kubelet
// hands to the provider (well-formed JWTs that are not validly signed; the
// provider does not verify signatures and the stub compares token strings).
//
// The tests of this package run the real binary against the stub:
//
//	cd test && go test ./apistub/...
//
// CRIO_CREDENTIAL_PROVIDER_BIN names the binary (default
// ../build/crio-credential-provider relative to test/);
// CRIO_CREDENTIAL_PROVIDER_STATIC_BIN, when set, a fully static build that
// TestAPIServerByHostName runs as well (ctest sets both).
package apistub
