// Command e2e-node plays a node for the end-to-end tests.
//
//	e2e-node kubelet [flags]   kubelet's image credential lookup (its own
//	                           credential-provider plugin package, token
//	                           manager and pull-secret keyring) followed by
//	                           the CRI PullImage calls kubelet makes, to a
//	                           real CRI-O; batches of pulls as JSON lines on
//	                           stdin, results on stdout.
//	e2e-node push              builds a tiny OCI image and pushes it with
//	                           containers/image (JSON request on stdin).
//
// It is a separate process because kubelet's plugin registry is global: one
// process per CredentialProviderConfig.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2e-node kubelet|push ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "kubelet":
		err = runKubelet(os.Args[2:])
	case "push":
		err = runPush()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-node:", err)
		os.Exit(1)
	}
}
