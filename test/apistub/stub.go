package apistub

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pull-secret types.
const (
	TypeDockerConfigJSON = "kubernetes.io/dockerconfigjson"
	TypeDockerCfg        = "kubernetes.io/dockercfg"
)

// Pod is the part of a v1.Pod the provider reads.
type Pod struct {
	Namespace, Name, UID string
	ServiceAccount       string // spec.serviceAccountName
	NodeName             string
	ImagePullSecrets     []string
}

// ServiceAccount is the part of a v1.ServiceAccount the provider reads.
type ServiceAccount struct {
	Namespace, Name, UID string
	ImagePullSecrets     []string
}

// Secret is a v1.Secret; Data values are served as they are (base64 of the
// content for a well-formed secret).
type Secret struct {
	Namespace, Name, Type string
	Data                  map[string]string
}

// DockerConfigJSON is a kubernetes.io/dockerconfigjson secret holding
// config (the JSON text of {"auths":{...}}).
func DockerConfigJSON(ns, name, config string) Secret {
	return Secret{Namespace: ns, Name: name, Type: TypeDockerConfigJSON,
		Data: map[string]string{".dockerconfigjson": b64(config)}}
}

// DockerCfg is a legacy kubernetes.io/dockercfg secret holding config (the
// JSON text of {KEY:{...}}).
func DockerCfg(ns, name, config string) Secret {
	return Secret{Namespace: ns, Name: name, Type: TypeDockerCfg,
		Data: map[string]string{".dockercfg": b64(config)}}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Request is one request the stub received.
type Request struct {
	Method   string
	Path     string     // decoded path
	RawQuery string     // as sent
	Query    url.Values // decoded
	HasAuth  bool       // an Authorization header was present
	TokenOK  bool       // it was "Bearer <the expected token>"
	At       time.Time
	// From the path: "get" or "list", the resource, namespace and name.
	Verb, Resource, Namespace, Name string
}

// String is "GET /api/v1/...?...", for messages.
func (r Request) String() string {
	s := r.Method + " " + r.Path
	if r.RawQuery != "" {
		s += "?" + r.RawQuery
	}
	return s
}

// Fault makes matching requests fail or stall instead of being served.
type Fault struct {
	Verb     string // "get", "list" or "" for any
	Resource string // "pods", "serviceaccounts", "secrets" or "" for any
	Name     string // object name or "" for any
	Times    int    // how many matching requests it applies to; 0 = all
	Delay    time.Duration
	// Status to answer with (a Status object); 0 serves the request
	// normally after Delay.
	Status     int
	RetryAfter string // Retry-After header value, if any
	Location   string // Location header value, if any (a redirect)
	// Body, when set, is the answer verbatim (status Status, 200 when 0):
	// a hostile or broken server.
	Body string
	// Raw, when set, is written on the bare connection instead of an HTTP
	// answer (status line and framing included): one byte per Drip when
	// Drip is set, again and again while Repeat, until the client leaves.
	Raw    string
	Drip   time.Duration
	Repeat bool
	used   int
}

// Server is the stub API server. Safe for concurrent use.
type Server struct {
	URL string // https://127.0.0.1:PORT

	mu       sync.Mutex
	token    string
	pods     map[string]Pod
	sas      map[string]ServiceAccount
	secrets  map[string]Secret
	keys     []string // secrets' keys in order; nil when stale
	faults   []*Fault
	requests []Request

	srv    *http.Server
	ln     net.Listener
	closed chan struct{}
	once   sync.Once
}

// Start serves HTTPS on 127.0.0.1 (a free port) with cert, accepting only
// "Authorization: Bearer <token>".
func Start(cert tls.Certificate, token string) (*Server, error) {
	return startAt("127.0.0.1:0", cert, token)
}

func startAt(addr string, cert tls.Certificate, token string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:     "https://" + ln.Addr().String(),
		token:   token,
		pods:    map[string]Pod{},
		sas:     map[string]ServiceAccount{},
		secrets: map[string]Secret{},
		closed:  make(chan struct{}),
	}
	s.ln = tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		// TLS handshake failures are expected in some tests.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

// Close stops the server and ends stalled handlers.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		_ = s.srv.Close()
	})
}

// SetToken changes the bearer token the stub accepts.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

func key(ns, name string) string { return ns + "/" + name }

// AddPod stores (or replaces) a pod.
func (s *Server) AddPod(p Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods[key(p.Namespace, p.Name)] = p
}

// DeletePod removes a pod.
func (s *Server) DeletePod(ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pods, key(ns, name))
}

// AddServiceAccount stores (or replaces) a service account.
func (s *Server) AddServiceAccount(sa ServiceAccount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sas[key(sa.Namespace, sa.Name)] = sa
}

// AddSecret stores (or replaces) a secret.
func (s *Server) AddSecret(sec Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.secrets[key(sec.Namespace, sec.Name)]; !ok {
		s.keys = nil
	}
	s.secrets[key(sec.Namespace, sec.Name)] = sec
}

// AddFault appends a fault; the first matching fault with uses left wins.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Requests returns a copy of the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Status is a metav1.Status.
type Status struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   map[string]any `json:"metadata"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     string         `json:"reason"`
	Details    map[string]any `json:"details,omitempty"`
	Code       int            `json:"code"`
}

var reasons = map[int]string{
	400: "BadRequest",
	401: "Unauthorized",
	403: "Forbidden",
	404: "NotFound",
	405: "MethodNotAllowed",
	429: "TooManyRequests",
	500: "InternalError",
	503: "ServiceUnavailable",
}

// statusFor is the Status kube-apiserver would send for code on req.
func statusFor(code int, req Request) Status {
	st := Status{Kind: "Status", APIVersion: "v1", Metadata: map[string]any{},
		Status: "Failure", Reason: reasons[code], Code: code}
	what := req.Resource
	if req.Name != "" {
		what = fmt.Sprintf("%s %q", req.Resource, req.Name)
	}
	switch code {
	case 401:
		st.Message = "Unauthorized"
	case 403:
		st.Message = fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group \"\" in the namespace %q",
			what, "system:serviceaccount:"+req.Namespace+":builder", req.Verb, req.Resource, req.Namespace)
		st.Details = map[string]any{"name": req.Name, "kind": req.Resource}
	case 404:
		st.Message = fmt.Sprintf("%s not found", what)
		st.Details = map[string]any{"name": req.Name, "kind": req.Resource}
	case 429:
		st.Message = "Too many requests, please try again later."
		st.Details = map[string]any{"retryAfterSeconds": 1}
	case 500:
		st.Message = "Internal error occurred: etcdserver: request timed out"
	case 503:
		st.Message = "the server is currently unable to handle the request"
	default:
		st.Message = fmt.Sprintf("HTTP %d", code)
	}
	if st.Reason == "" {
		st.Reason = "Unknown"
	}
	return st
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// parsePath splits /api/v1/namespaces/{ns}/{resource}[/{name}].
func parsePath(p string) (ns, resource, name string, ok bool) {
	rest, found := strings.CutPrefix(p, "/api/v1/namespaces/")
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	switch len(parts) {
	case 2:
		ns, resource = parts[0], parts[1]
	case 3:
		ns, resource, name = parts[0], parts[1], parts[2]
	default:
		return "", "", "", false
	}
	if ns == "" || resource == "" || (len(parts) == 3 && name == "") {
		return "", "", "", false
	}
	return ns, resource, name, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	req := Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Query:    r.URL.Query(),
		HasAuth:  auth != "",
		At:       time.Now(),
	}
	ns, resource, name, pathOK := parsePath(r.URL.Path)
	req.Namespace, req.Resource, req.Name = ns, resource, name
	if pathOK {
		req.Verb = "get"
		if name == "" {
			req.Verb = "list"
		}
	}

	s.mu.Lock()
	req.TokenOK = s.token != "" && auth == "Bearer "+s.token
	s.requests = append(s.requests, req)
	var fault *Fault
	for _, f := range s.faults {
		if (f.Verb == "" || f.Verb == req.Verb) &&
			(f.Resource == "" || f.Resource == req.Resource) &&
			(f.Name == "" || f.Name == req.Name) &&
			(f.Times == 0 || f.used < f.Times) {
			f.used++
			copied := *f
			fault = &copied
			break
		}
	}
	s.mu.Unlock()

	if fault != nil {
		if fault.Delay > 0 {
			timer := time.NewTimer(fault.Delay)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				timer.Stop()
				return
			case <-s.closed:
				timer.Stop()
				return
			}
		}
		if fault.Raw != "" {
			writeRaw(w, fault, s.closed)
			return
		}
		if fault.Body != "" {
			code := fault.Status
			if code == 0 {
				code = http.StatusOK
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, fault.Body)
			return
		}
		if fault.Status != 0 {
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			if fault.Location != "" {
				w.Header().Set("Location", fault.Location)
			}
			writeJSON(w, fault.Status, statusFor(fault.Status, req))
			return
		}
	}

	if !req.TokenOK {
		writeJSON(w, 401, statusFor(401, req))
		return
	}
	if r.Method != http.MethodGet {
		writeJSON(w, 405, statusFor(405, req))
		return
	}
	if !pathOK {
		writeJSON(w, 404, statusFor(404, req))
		return
	}
	body, code := s.object(req)
	writeJSON(w, code, body)
}

func refs(names []string) []map[string]string {
	out := []map[string]string{}
	for _, n := range names {
		out = append(out, map[string]string{"name": n})
	}
	return out
}

func meta(ns, name, uid string) map[string]any {
	return map[string]any{
		"name": name, "namespace": ns, "uid": uid,
		"resourceVersion": "4242", "creationTimestamp": "2025-01-01T00:00:00Z",
	}
}

// object answers a GET on a known path.
func (s *Server) object(req Request) (any, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	notFound := func() (any, int) { return statusFor(404, req), 404 }
	switch {
	case req.Resource == "pods" && req.Name != "":
		p, ok := s.pods[key(req.Namespace, req.Name)]
		if !ok {
			return notFound()
		}
		spec := map[string]any{
			"serviceAccountName": p.ServiceAccount,
			"serviceAccount":     p.ServiceAccount,
			"nodeName":           p.NodeName,
			"containers": []map[string]any{{
				"name": "app", "image": "nginx:1.27",
			}},
		}
		if len(p.ImagePullSecrets) > 0 {
			spec["imagePullSecrets"] = refs(p.ImagePullSecrets)
		}
		return map[string]any{
			"kind": "Pod", "apiVersion": "v1",
			"metadata": meta(p.Namespace, p.Name, p.UID),
			"spec":     spec,
			"status":   map[string]any{"phase": "Pending"},
		}, 200
	case req.Resource == "serviceaccounts" && req.Name != "":
		sa, ok := s.sas[key(req.Namespace, req.Name)]
		if !ok {
			return notFound()
		}
		obj := map[string]any{
			"kind": "ServiceAccount", "apiVersion": "v1",
			"metadata": meta(sa.Namespace, sa.Name, sa.UID),
		}
		if len(sa.ImagePullSecrets) > 0 {
			obj["imagePullSecrets"] = refs(sa.ImagePullSecrets)
		}
		return obj, 200
	case req.Resource == "secrets" && req.Name != "":
		sec, ok := s.secrets[key(req.Namespace, req.Name)]
		if !ok {
			return notFound()
		}
		return secretObject(sec, true), 200
	case req.Resource == "secrets":
		return s.listSecrets(req)
	}
	return notFound()
}

func secretObject(sec Secret, withKind bool) map[string]any {
	obj := map[string]any{
		"metadata": meta(sec.Namespace, sec.Name, "uid-"+sec.Name),
		"type":     sec.Type,
		"data":     sec.Data,
	}
	if withKind {
		obj["kind"], obj["apiVersion"] = "Secret", "v1"
	}
	return obj
}

// ErrSelector is returned for field selectors the stub does not support.
var ErrSelector = errors.New("unsupported field selector")

// parseTypeSelector accepts "type=X" or "type==X" (what kube-apiserver
// supports for secrets is wider, but a provider needs only this).
func parseTypeSelector(sel string) (string, error) {
	if sel == "" {
		return "", nil
	}
	for _, op := range []string{"==", "="} {
		if v, ok := strings.CutPrefix(sel, "type"+op); ok && v != "" && !strings.ContainsAny(v, ",=!") {
			return v, nil
		}
	}
	return "", fmt.Errorf("%w %q", ErrSelector, sel)
}

// listSecrets pages as kube-apiserver does: items in key order, at most
// `limit` of them, and metadata.continue, an opaque token, when more are
// left. The token is our own encoding of where
// the next page starts; a token the stub did not issue is a 400, as
// kube-apiserver answers one it cannot decode.
func (s *Server) listSecrets(req Request) (any, int) {
	for k := range req.Query {
		if k != "fieldSelector" && k != "limit" && k != "continue" && k != "resourceVersion" {
			st := statusFor(400, req)
			st.Message = "unsupported query parameter " + k
			return st, 400
		}
	}
	typ, err := parseTypeSelector(req.Query.Get("fieldSelector"))
	if err != nil {
		st := statusFor(400, req)
		st.Message = err.Error()
		return st, 400
	}
	limit := 0
	if v := req.Query.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			st := statusFor(400, req)
			st.Message = "invalid limit " + strconv.Quote(v)
			return st, 400
		}
	}
	start := ""
	if v := req.Query.Get("continue"); v != "" {
		var ok bool
		if start, ok = decodeContinue(v); !ok {
			st := statusFor(400, req)
			st.Message = "continue key is not valid"
			return st, 400
		}
	}
	prefix := req.Namespace + "/"
	keys := s.sortedKeys()
	i := sort.SearchStrings(keys, prefix)
	if start != "" {
		i = sort.SearchStrings(keys, start)
	}
	items := []map[string]any{}
	metadata := map[string]any{"resourceVersion": "4243"}
	for ; i < len(keys) && strings.HasPrefix(keys[i], prefix); i++ {
		sec := s.secrets[keys[i]]
		if typ != "" && sec.Type != typ {
			continue
		}
		if limit > 0 && len(items) == limit {
			// No remainingItemCount: kube-apiserver leaves it out when
			// a field selector filters the list.
			metadata["continue"] = encodeContinue(keys[i])
			break
		}
		items = append(items, secretObject(sec, false))
	}
	return map[string]any{
		"kind": "SecretList", "apiVersion": "v1",
		"metadata": metadata,
		"items":    items,
	}, 200
}

// sortedKeys is every secret's key in order, computed once per change (a
// LIST of a large namespace takes hundreds of pages). Called with s.mu held.
func (s *Server) sortedKeys() []string {
	if s.keys == nil {
		s.keys = make([]string, 0, len(s.secrets))
		for k := range s.secrets {
			s.keys = append(s.keys, k)
		}
		sort.Strings(s.keys)
	}
	return s.keys
}

// The continue token: base64 of {"v":...,"start":KEY}, the key the next page
// starts at. Only tokens of this form decode.
func encodeContinue(start string) string {
	raw, _ := json.Marshal(map[string]string{"v": "apistub/v1", "start": start})
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeContinue(token string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	var v struct{ V, Start string }
	if json.Unmarshal(raw, &v) != nil || v.V != "apistub/v1" || v.Start == "" {
		return "", false
	}
	return v.Start, true
}

// writeRaw takes over the connection and writes fault.Raw as paced.
func writeRaw(w http.ResponseWriter, fault *Fault, closed <-chan struct{}) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		for i := 0; i < len(fault.Raw); {
			n := len(fault.Raw) - i
			if fault.Drip > 0 {
				select {
				case <-time.After(fault.Drip):
				case <-closed:
					return
				}
				n = 1
			}
			if _, err := conn.Write([]byte(fault.Raw[i : i+n])); err != nil {
				return
			}
			i += n
		}
		if !fault.Repeat {
			return
		}
	}
}
