// Package testbed is the reusable end-to-end harness: a control plane
// (embedded etcd + a kube-apiserver built from the pinned k8s.io/kubernetes
// module, Node,RBAC authorization, NodeRestriction and ServiceAccount
// admission, generated CA and service-account keys), node identities with
// client certificates and kubelet kubeconfigs, docker-registry instances
// (TLS, htpasswd/bcrypt, pull-through cache) whose logs tell which user
// fetched what, and a driver for the e2e-node helper (test/cmd/e2e-node),
// which runs kubelet's credential-provider plugin code and CRI-O's
// namespaced-auth-file pull path with containers/image.
//
// The helper is a separate process because kubelet's plugin registry is
// process-global (one CredentialProviderConfig per process) and because
// containers/image's copy package must be built with the
// containers_image_openpgp tag (no gpgme), which `go test` does not pass.
package testbed
