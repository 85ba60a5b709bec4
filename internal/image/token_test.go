package image_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hyperhq/hyper/internal/image"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// tokenAuth is docker's token authentication in front of a real registry:
// a token server (GET /token, basic auth, opaque bearer tokens scoped to
// what was asked) and a registry front that answers 401 with
// `WWW-Authenticate: Bearer realm=...,service=...,scope=...` unless the
// request carries a token good for it, then proxies to docker-registry.
type tokenAuth struct {
	user, password string
	service        string
	realm          string

	mu       sync.Mutex
	tokens   map[string]string // token -> scope it grants
	issued   []string          // scopes of the tokens issued
	refused  int               // token requests refused
	bearerOK int               // registry requests let through with a token
}

func (a *tokenAuth) serveToken(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	q := r.URL.Query()
	if !ok || u != a.user || p != a.password || q.Get("service") != a.service {
		a.mu.Lock()
		a.refused++
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	scope := q.Get("scope")
	a.mu.Lock()
	a.tokens[tok] = scope
	a.issued = append(a.issued, scope)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}

// scopeOf is the scope a registry request needs ("" for the /v2/ ping).
func scopeOf(path string) string {
	p := strings.TrimPrefix(path, "/v2/")
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if i := strings.Index(p, sep); i > 0 {
			return "repository:" + p[:i] + ":pull"
		}
	}
	return ""
}

func (a *tokenAuth) front(backend string) http.Handler {
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need := scopeOf(r.URL.Path)
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		a.mu.Lock()
		granted, known := a.tokens[tok]
		a.mu.Unlock()
		if !ok || !known || (need != "" && !strings.Contains(granted, need)) || r.Method != http.MethodGet && r.Method != http.MethodHead {
			c := fmt.Sprintf(`Bearer realm=%q,service=%q`, a.realm, a.service)
			if need != "" {
				c += fmt.Sprintf(`,scope=%q`, need)
			}
			w.Header().Set("WWW-Authenticate", c)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		a.mu.Lock()
		a.bearerOK++
		a.mu.Unlock()
		r.Header.Del("Authorization")
		proxy.ServeHTTP(w, r)
	})
}

// TestPullTokenAuth pulls through docker's token protocol: the pull is
// refused without credentials and with a bad password (the token server
// says no), and with good ones obtains a token scoped to the repository
// and uses it for the manifest and blobs. The token server is a separate
// service ("localhost" realm: go-containerregistry refuses realms at
// loopback or private IP literals other than the registry's own
// host:port) or the registry's own host.
func TestPullTokenAuth(t *testing.T) {
	for _, tc := range []string{"separate", "same-host"} {
		t.Run(tc, func(t *testing.T) { testPullTokenAuth(t, tc == "same-host") })
	}
}

func testPullTokenAuth(t *testing.T, sameHost bool) {
	noCreds(t)
	reg := it.StartRegistry(t, it.RegistryOptions{})
	push(t, reg+"/team/private:latest", it.Image(t, it.Config(), it.Layer(t, it.File("secret", "token-protected", 0o644))))

	a := &tokenAuth{user: "alice", password: "s3cret", service: "hyper-test-registry", tokens: map[string]string{}}
	regFront := a.front(reg)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sameHost && r.URL.Path == "/token" {
			a.serveToken(w, r)
			return
		}
		regFront.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	host := strings.TrimPrefix(front.URL, "http://")
	if sameHost {
		a.realm = front.URL + "/token"
	} else {
		ts := httptest.NewServer(http.HandlerFunc(a.serveToken))
		t.Cleanup(ts.Close)
		a.realm = strings.Replace(ts.URL, "127.0.0.1", "localhost", 1) + "/token"
	}
	ref := host + "/team/private:latest"
	e := newStore(t, image.Options{})

	_, err := e.s.Pull(ctx, ref, image.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "refused access") {
		t.Fatalf("without credentials: %v", err)
	}
	t.Logf("without credentials: %v", err)

	t.Setenv("DOCKER_CONFIG", it.DockerConfig(t, host, "alice", "wrong"))
	_, err = e.s.Pull(ctx, ref, image.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "refused access") {
		t.Fatalf("bad password: %v", err)
	}
	t.Logf("bad password: %v", err)
	a.mu.Lock()
	refused, issued := a.refused, len(a.issued)
	a.mu.Unlock()
	if refused < 2 || issued != 0 {
		t.Fatalf("token server refused %d and issued %d tokens, want >= 2 and 0", refused, issued)
	}

	t.Setenv("DOCKER_CONFIG", it.DockerConfig(t, host, "alice", "s3cret"))
	got := pull(t, e.s, ref, image.PullOptions{})
	if body := readRootfs(t, e.s, got.ID, "secret"); body != "token-protected" {
		t.Errorf("secret = %q", body)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.issued) == 0 || a.bearerOK < 3 { // manifest, config, layer
		t.Fatalf("tokens issued for %v, %d requests let through with one", a.issued, a.bearerOK)
	}
	for _, s := range a.issued {
		if !strings.Contains(s, "repository:team/private:pull") {
			t.Errorf("token issued for scope %q", s)
		}
	}
	t.Logf("tokens issued for %v; %d registry requests carried one", a.issued, a.bearerOK)
}
