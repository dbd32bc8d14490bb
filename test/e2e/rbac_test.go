package e2e

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"testing"

	"crio-credential-provider/test/internal/testbed"
)

// Scenario 8: --secrets=namespace with the reference implementation's RBAC
// (get pods, list secrets) and --secrets=pod with exactly the Role the
// README documents (get pods, serviceaccounts, secrets) both pull through
// the mirror; without the Role the provider's stderr, as kubelet logs it,
// names the missing permission.
func TestSecretsModes(t *testing.T) {
	e := newEnv(t)
	cred := testbed.Cred{Username: "modes-robot", Password: "modes-pass"}
	src := sourceRegistry(e, "team/app:1")
	mirror := mirrorRegistry(e, "mirror", []testbed.Cred{cred}, "team/app:1")
	e.WriteFile(e.RegistriesConf, teamConf(src, mirror, "team"))

	setup := func(name string, referenced bool, rules func() []rbacv1.PolicyRule) string {
		ns := e.Namespace(name)
		e.Must(e.CP.PutPullSecret(ns, "mirror-creds", map[string]testbed.Cred{mirror.Host: cred}))
		if referenced {
			e.Must(e.CP.CreateServiceAccount(ns, "default", "mirror-creds"))
		}
		if rules != nil {
			e.Must(e.CP.GrantRole(ns, "crio-credential-provider", "default", rules()))
		}
		_, err := e.CP.CreatePod(testbed.PodSpec{Namespace: ns, Name: "app", Node: "node-a", Image: "docker.io/team/app:1"})
		e.Must(err)
		return ns
	}
	// namespace mode: the secret is referenced by nobody.
	nsMode := setup("mode-namespace", false, testbed.NamespaceModeRules)
	nsModeNoRBAC := setup("mode-namespace-norbac", false, nil)
	podMode := setup("mode-pod", true, testbed.PodModeRules)
	podModeNoRBAC := setup("mode-pod-norbac", true, nil)

	nsDriver := e.StartDriver(testbed.DriverConfig{Args: []string{"--secrets=namespace"}})
	podDriver := e.StartDriver(testbed.DriverConfig{Args: []string{"--secrets=pod"}})

	t.Run("namespace", func(t *testing.T) {
		r, log := nsDriver.PullOne(nsMode, "app", "docker.io/team/app:1")
		assertPulledFrom(t, r, "mirror", log)
		assertAuthFileUsed(t, r, mirror.Host+"/team/app", cred)
	})
	t.Run("pod", func(t *testing.T) {
		r, log := podDriver.PullOne(podMode, "app", "docker.io/team/app:1")
		assertPulledFrom(t, r, "mirror", log)
		assertAuthFileUsed(t, r, mirror.Host+"/team/app", cred)
	})
	t.Run("namespace-without-role", func(t *testing.T) {
		r, log := nsDriver.PullOne(nsModeNoRBAC, "app", "docker.io/team/app:1")
		// The first call is GET pod: either permission may be named first.
		assertProviderError(t, e, r, log, "forbidden|permission", "pods|secrets", "get|list",
			"system:serviceaccount:"+nsModeNoRBAC+":default|"+nsModeNoRBAC)
		assertPulledFrom(t, r, "source", log)
	})
	t.Run("pod-without-role", func(t *testing.T) {
		r, log := podDriver.PullOne(podModeNoRBAC, "app", "docker.io/team/app:1")
		assertProviderError(t, e, r, log, "forbidden|permission", "pods|serviceaccounts|secrets", "get",
			"system:serviceaccount:"+podModeNoRBAC+":default|"+podModeNoRBAC)
		assertPulledFrom(t, r, "source", log)
	})
	assertNoLeftovers(t, e)
}
