package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	dockerconfig "github.com/docker/cli/cli/config"
	configtypes "github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// dockerConfigDir is $DOCKER_CONFIG, else ~/.docker (read every time:
// docker/cli caches it).
func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	return dockerconfig.Dir()
}

// dockerHubKey is the key Docker keeps Docker Hub's credentials under.
const dockerHubKey = "https://index.docker.io/v1/"

// registryHost normalizes a login SERVER: "" and Docker Hub's aliases are
// docker.io; a URL is reduced to its host.
func registryHost(server string) (name.Registry, string, error) {
	s := strings.TrimSuffix(server, "/")
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		r, err := name.NewRegistry(name.DefaultRegistry)
		return r, dockerHubKey, err
	}
	r, err := name.NewRegistry(s)
	if err != nil {
		return name.Registry{}, "", fmt.Errorf("invalid registry %q: %v", server, err)
	}
	return r, s, nil
}

func newLoginCommand(h *cli) *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Long: `Log in to a registry (default Docker Hub): check the credentials against
the registry, then store them in the docker config of the user running
hyperctl ($DOCKER_CONFIG/config.json or ~/.docker/config.json, through a
credential helper if one is configured), as 'docker login' does.

hyperd pulls with the credentials of the user it runs as (root): log in as
that user for hyperd to use them.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf(cmd, "%q accepts at most 1 argument", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			if password != "" && passwordStdin {
				return usageErrorf(cmd, "--password and --password-stdin are mutually exclusive")
			}
			reg, key, err := registryHost(server)
			if err != nil {
				return err
			}
			in := bufio.NewReader(h.streams.In)
			if passwordStdin {
				if user == "" {
					return usageErrorf(cmd, "--password-stdin needs --username")
				}
				b, err := io.ReadAll(in)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" {
				if !isTerminal(h.streams.In) {
					return usageErrorf(cmd, "--username is required when stdin is not a terminal")
				}
				fmt.Fprint(h.streams.Out, "Username: ")
				line, err := in.ReadString('\n')
				if err != nil && line == "" {
					return err
				}
				user = strings.TrimSpace(line)
			}
			if password == "" && !passwordStdin {
				fd, ok := fdOf(h.streams.In)
				if !ok || !term.IsTerminal(fd) {
					return usageErrorf(cmd, "give the password with --password-stdin when stdin is not a terminal")
				}
				fmt.Fprint(h.streams.Out, "Password: ")
				b, err := term.ReadPassword(fd)
				fmt.Fprintln(h.streams.Out)
				if err != nil {
					return err
				}
				password = string(b)
			}
			if user == "" || password == "" {
				return errors.New("username and password are required")
			}
			if err := checkLogin(cmd.Context(), reg, user, password); err != nil {
				return err
			}
			cf, err := dockerconfig.Load(dockerConfigDir())
			if err != nil {
				return err
			}
			if err := cf.GetCredentialsStore(key).Store(configtypes.AuthConfig{
				Username: user, Password: password, ServerAddress: key,
			}); err != nil {
				return fmt.Errorf("storing credentials: %w", err)
			}
			if err := cf.Save(); err != nil {
				return fmt.Errorf("saving %s: %w", cf.GetFilename(), err)
			}
			fmt.Fprintln(h.streams.Out, "Login Succeeded")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&user, "username", "u", "", "user name")
	f.StringVarP(&password, "password", "p", "", "password (visible to other users: prefer --password-stdin)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

// checkLogin checks credentials against the registry: the token exchange
// (bearer auth) or a GET /v2/ with them (basic auth) must succeed.
func checkLogin(ctx context.Context, reg name.Registry, user, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	rt, err := transport.NewWithContext(ctx, reg, auth, http.DefaultTransport, nil)
	if err != nil {
		return loginError(reg, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return loginError(reg, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return loginError(reg, err)
	}
	return nil
}

func loginError(reg name.Registry, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("login to %s failed: unauthorized: wrong user name or password (%v)", reg.RegistryStr(), err)
	}
	return fmt.Errorf("login to %s failed: %w", reg.RegistryStr(), err)
}

func newLogoutCommand(h *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  `Remove the credentials for a registry (default Docker Hub) from the docker config of the user running hyperctl.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf(cmd, "%q accepts at most 1 argument", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			_, key, err := registryHost(server)
			if err != nil {
				return err
			}
			cf, err := dockerconfig.Load(dockerConfigDir())
			if err != nil {
				return err
			}
			if _, ok := cf.AuthConfigs[key]; !ok && cf.CredentialsStore == "" && cf.CredentialHelpers[key] == "" {
				fmt.Fprintf(h.streams.Out, "Not logged in to %s\n", key)
				return nil
			}
			if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
				return fmt.Errorf("removing credentials: %w", err)
			}
			if err := cf.Save(); err != nil {
				return err
			}
			fmt.Fprintf(h.streams.Out, "Removing login credentials for %s\n", key)
			return nil
		},
	}
}
