package testbed

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cred is a registry username and password.
type Cred struct{ Username, Password string }

// CreateNamespace creates ns and its "default" service account (there is no
// controller-manager to do it).
func (cp *ControlPlane) CreateNamespace(ns string) error {
	ctx := context.Background()
	_, err := cp.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return cp.CreateServiceAccount(ns, "default")
}

// CreateFreshNamespace creates ns and its default service account; it
// returns false when ns exists already.
func (cp *ControlPlane) CreateFreshNamespace(ns string) (bool, error) {
	_, err := cp.Admin.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, cp.CreateServiceAccount(ns, "default")
}

// CreateServiceAccount creates a service account referencing pullSecrets.
func (cp *ControlPlane) CreateServiceAccount(ns, name string, pullSecrets ...string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, s := range pullSecrets {
		sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	_, err := cp.Admin.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := cp.Admin.CoreV1().ServiceAccounts(ns).Get(context.Background(), name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		cur.ImagePullSecrets = sa.ImagePullSecrets
		_, err = cp.Admin.CoreV1().ServiceAccounts(ns).Update(context.Background(), cur, metav1.UpdateOptions{})
	}
	return err
}

// DockerConfigJSON renders {"auths":{key:{auth}}}.
func DockerConfigJSON(entries map[string]Cred) []byte {
	auths := map[string]map[string]string{}
	for k, c := range entries {
		auths[k] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))}
	}
	b, _ := json.Marshal(map[string]any{"auths": auths})
	return b
}

// PutPullSecret creates or replaces a kubernetes.io/dockerconfigjson secret.
func (cp *ControlPlane) PutPullSecret(ns, name string, entries map[string]Cred) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: DockerConfigJSON(entries)},
	}
	ctx := context.Background()
	_, err := cp.Admin.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cp.Admin.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{})
	}
	return err
}

// DeleteSecret deletes a secret.
func (cp *ControlPlane) DeleteSecret(ns, name string) error {
	return cp.Admin.CoreV1().Secrets(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
}

// PodSpec describes a pod bound to a node.
type PodSpec struct {
	Namespace, Name, Node, Image string
	ServiceAccount               string // default "default"
	PullSecrets                  []string
}

// CreatePod creates a pod already bound to its node (spec.nodeName): no
// scheduler, no kubelet.
func (cp *ControlPlane) CreatePod(p PodSpec) (*corev1.Pod, error) {
	if p.ServiceAccount == "" {
		p.ServiceAccount = "default"
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name},
		Spec: corev1.PodSpec{
			NodeName:           p.Node,
			ServiceAccountName: p.ServiceAccount,
			Containers:         []corev1.Container{{Name: "app", Image: p.Image}},
		},
	}
	for _, s := range p.PullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	created, err := cp.Admin.CoreV1().Pods(p.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	// The Node authorizer learns about the pod (and the secrets and service
	// account it references) from a watch: wait until the node may read it,
	// as a kubelet would only hear of the pod through its own watch.
	cp.mu.Lock()
	n := cp.nodes[p.Node]
	cp.mu.Unlock()
	if n == nil {
		return created, nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := n.Client.CoreV1().Pods(p.Namespace).Get(context.Background(), p.Name, metav1.GetOptions{})
		if err == nil {
			return created, nil
		}
		if !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("node %s still may not read pod %s/%s: %w", p.Node, p.Namespace, p.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// GrantRole creates Role+RoleBinding name in ns for the service account sa.
func (cp *ControlPlane) GrantRole(ns, name, sa string, rules []rbacv1.PolicyRule) error {
	ctx := context.Background()
	if _, err := cp.Admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules,
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	_, err := cp.Admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	// RBAC reads roles from an informer: wait until every rule is in effect.
	for _, r := range rules {
		for _, res := range r.Resources {
			for _, verb := range r.Verbs {
				if err := cp.waitAllowed(authorizationv1.SubjectAccessReviewSpec{
					User:   "system:serviceaccount:" + ns + ":" + sa,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Namespace: ns, Verb: verb, Resource: res, Group: "",
					},
				}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// waitAllowed polls a SubjectAccessReview until the authorizers allow it.
func (cp *ControlPlane) waitAllowed(spec authorizationv1.SubjectAccessReviewSpec) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		sar, err := cp.Admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(),
			&authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if sar.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("authorization for %s %+v not in effect after 30s: %s", spec.User, *spec.ResourceAttributes, sar.Status.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PodModeRules is the Role the README documents for --secrets=pod: get on
// pods, serviceaccounts and secrets.
func PodModeRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "serviceaccounts", "secrets"}, Verbs: []string{"get"}}}
}

// NamespaceModeRules is the Role the README documents for
// --secrets=namespace: get pods and list secrets.
func NamespaceModeRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}},
	}
}
