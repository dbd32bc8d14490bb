// Package deps pins the real components the harness drives, so that
// `go mod tidy` keeps them in go.sum even before every test uses them.
package deps

import (
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "go.podman.io/image/v5/copy"
	_ "go.podman.io/image/v5/docker/reference"
	_ "go.podman.io/image/v5/pkg/docker/config"
	_ "go.podman.io/image/v5/pkg/sysregistriesv2"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/pkg/credentialprovider"
	_ "k8s.io/kubernetes/pkg/credentialprovider/plugin"
)
