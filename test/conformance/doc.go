// Package conformance holds the differential test suite of
// crio-credential-provider: generated inputs are fed both to the provider
// binary (`resolve --json`, `match --json`) and to the real libraries it has
// to agree with (go.podman.io/image/v5 docker/reference, sysregistriesv2 and
// pkg/docker/config; kubelet's pkg/credentialprovider keyring), and every
// difference is reported with a minimized reproducer.
//
// Run from test/:
//
//	go test ./conformance/...                                # CI: fixed seed, -n per area
//	go test ./conformance -run Generated -args -seed=7 -n=200000   # longer run
//
// Flags (after -args): -seed (default 1), -n (cases per area, default 10000),
// -minimize (shrink disagreements, default true), -maxreport (distinct
// disagreements reported per area, default 25), -workers (default NumCPU).
package conformance
