//go:build tools

// Package pins keeps in go.mod and go.sum the programs the end-to-end test
// bed builds from module sources at run time (kube-apiserver), which no
// test imports. The tools tag keeps it out of every build.
package pins

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
