package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/secret"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/server"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// serveFlags are the settings of `semnat serve`. Each comes from its flag,
// else $SEMNAT_<NAME> (upper case, - as _), else the --config file
// (NAME = VALUE lines), else its default.
type serveFlags struct {
	config, data, addr, publicURL string
	addrGiven                     bool // --addr (flag, environment or file) was given
	storeDSN                      string
	demo, online, printConfig     bool
	trust                         []string
	keys                          keyFlags
	sealLevel, tsaURL             string
	apiKeys                       string
	tlsCert, tlsKey, clientCA     string
	mssp, msspFace, msspClient    string
	msspSecretFile, agentURL      string
	logFormat, logLevel           string
	maxUpload                     byteSize
	maxConcurrent, rateBurst      int
	rateLimit, promptRate         float64
	systemRateLimit               float64
	requestTimeout                time.Duration
	trustedProxies                []string
	mpower, mpowerKeyFile         string // MPower's check API, for requests on behalf of another party
	catalog                       string // --demo: the portal's catalogue directory
}

// register adds the flags; demo adds --demo (`semnat serve` has it,
// `semnat msign serve` does not).
func (f *serveFlags) register(fl *pflag.FlagSet, demo bool) {
	fl.StringVar(&f.config, "config", "", "configuration file of NAME = VALUE lines (NAME: any flag below)")
	if demo {
		fl.BoolVar(&f.demo, "demo", false, "run on embedded defaults: test PKI, test keys, SQLite in --data")
		fl.StringVar(&f.catalog, "catalog", "", "with --demo: the portal's directory of service files (default: the embedded demo services)")
	}
	fl.BoolVar(&f.printConfig, "print-config", false, "print the effective configuration as a --config file and exit")
	fl.StringVar(&f.data, "data", ".data", "data directory (SQLite database; with --demo also the test PKI and API key)")
	fl.StringVar(&f.storeDSN, "store", "", "the store: a postgres:// URL (password from $PGPASSWORD or ~/.pgpass) to share it between instances; default SQLite DATA/semnat.db")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8480", "listen address HOST:PORT")
	fl.StringVar(&f.publicURL, "public-url", "", "the URL users reach this server at (default: from --addr)")
	fl.StringSliceVar(&f.trust, "trust", nil, "trust anchors for verification, with intermediate CAs: PEM/DER file or directory (repeatable); the in-browser verifier's revocation proxy asks these CAs' OCSP responders")
	fl.BoolVar(&f.online, "online", true, "let verification fetch OCSP responses and CRLs that documents do not embed")
	f.keys.register(fl)
	fl.StringVar(&f.sealLevel, "seal-level", "B-T", "PAdES level of seals: B-B, B-T, B-LT or B-LTA (B-T and up need --tsa)")
	fl.StringVar(&f.tsaURL, "tsa", "", "RFC 3161 timestamp authority URL for seals")
	fl.StringVar(&f.mssp, "mssp", "", "mobile signature service URL for the sign page (.../mid-api or .../rest/service); none: no mobile signing")
	fl.StringVar(&f.msspFace, "mssp-face", "", "protocol of --mssp: mid or etsi (default: from the URL)")
	fl.StringVar(&f.msspClient, "mssp-client", "", "this service's name at the MSSP: the ETSI AP_ID or the Mobile-ID relying party name (default: the demo's)")
	fl.StringVar(&f.msspSecretFile, "mssp-secret-file", "", "file with the ETSI AP password or the Mobile-ID relying party UUID (else $SEMNAT_MSSP_SECRET)")
	fl.StringVar(&f.mpower, "mpower", "", "MPower's URL, where powers of representation are checked (MSign: a system's request to sign for another party, refused without it; portal: applying for another person or a company)")
	fl.StringVar(&f.mpowerKeyFile, "mpower-key-file", "", "file with this service's API key at --mpower (a system registered there with 'semnat mpower systems add --view-all')")
	fl.StringVar(&f.agentURL, "agent-url", "", "where the sign page finds the citizen's local token agent (default "+wire.DefaultURL+")")
	fl.StringVar(&f.apiKeys, "api-keys", "", "file of registered systems: NAME KEY or NAME sha256:HEX per line (seal API)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&f.clientCA, "client-ca", "", "PEM CA certificates of registered systems' TLS client certificates (seal API)")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxies", nil, "reverse proxies (CIDR or address, repeatable) whose X-Forwarded-For names the client; without them the connection's peer is the client")
	fl.StringVar(&f.logFormat, "log-format", "text", "request and event log on stderr: text (key=value) or json, one line each")
	fl.StringVar(&f.logLevel, "log-level", "info", "least important log lines shown: debug, info (one per request), warn or error")
	f.maxUpload = 32 << 20
	fl.Var(&f.maxUpload, "max-upload", "largest request body, e.g. 32MiB")
	fl.IntVar(&f.maxConcurrent, "max-concurrent", 4, "signing and verification requests worked on at once (more wait)")
	fl.Float64Var(&f.rateLimit, "rate-limit", 50, "API requests per second allowed to one client IP")
	fl.IntVar(&f.rateBurst, "rate-burst", 0, "API request burst per client IP (default 2×--rate-limit)")
	fl.Float64Var(&f.systemRateLimit, "system-rate-limit", 500, "API requests per second allowed to one registered system, from any address (a system registered with --rate-limit has its own)")
	fl.DurationVar(&f.requestTimeout, "request-timeout", 60*time.Second, "time limit of one API request")
	fl.Float64Var(&f.promptRate, "prompt-rate", 10, "phone prompts one client IP may start per minute without being a registered system")
}

// configSources fills the flags the command line did not set from the
// environment and then the config file; it names the source of a bad value.
func configSources(fl *pflag.FlagSet, path string) error {
	if path == "" {
		path = os.Getenv("SEMNAT_CONFIG")
	}
	file := map[string][]string{}
	if path != "" {
		var err error
		if file, err = readConfigFile(path, fl); err != nil {
			return err
		}
	}
	var errs []error
	fl.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || fl.Name == "config" || fl.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(fl.Name)); ok {
			if err := setFlag(fl, []string{v}); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %w", envName(fl.Name), err))
			}
			return
		}
		if vs, ok := file[fl.Name]; ok {
			if err := setFlag(fl, vs); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", path, fl.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

func envName(flag string) string {
	return "SEMNAT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func setFlag(fl *pflag.Flag, vs []string) error {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		var all []string
		for _, v := range vs {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					all = append(all, p)
				}
			}
		}
		return sv.Replace(all)
	}
	if len(vs) > 1 {
		return errors.New("given more than once")
	}
	return fl.Value.Set(vs[0])
}

// readConfigFile reads NAME = VALUE lines; # starts a comment line; a NAME
// may repeat for list settings. Unknown names are errors (with a hint).
func readConfigFile(path string, fl *pflag.FlagSet) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("%s:%d: want NAME = VALUE", path, n)
		}
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: a quoted value must be one Go-style string (\"...\")", path, n, name)
			}
			value = uq
		}
		if fl.Lookup(name) == nil || name == "config" {
			return nil, fmt.Errorf("%s:%d: unknown setting %q (settings are the flags of `semnat serve --help` or `semnat msign serve --help`, without --)", path, n, name)
		}
		out[name] = append(out[name], value)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// printConfig writes the effective settings in the --config format.
func printConfig(w io.Writer, command string, fl *pflag.FlagSet) {
	var names []string
	fl.VisitAll(func(f *pflag.Flag) {
		switch f.Name {
		case "config", "help", "print-config":
			return
		}
		names = append(names, f.Name)
	})
	sort.Strings(names)
	fmt.Fprintf(w, "# %s configuration: NAME = VALUE; each can also be a --NAME flag or $SEMNAT_NAME\n", command)
	for _, n := range names {
		f := fl.Lookup(n)
		fmt.Fprintf(w, "\n# %s\n", f.Usage)
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals := sv.GetSlice()
			if len(vals) == 0 {
				fmt.Fprintf(w, "# %s =\n", n)
			}
			for _, v := range vals {
				fmt.Fprintf(w, "%s = %s\n", n, configValue(v))
			}
			continue
		}
		switch v := redactURL(f.Value.String()); {
		case v == "" && f.DefValue == "":
			fmt.Fprintf(w, "# %s =\n", n) // unset
		default: // an empty value that overrides a default stays a setting
			fmt.Fprintf(w, "%s = %s\n", n, configValue(v))
		}
	}
}

// configValue writes a value so that readConfigFile reads it back: quoted
// when spaces at its ends, a leading quote or control characters would not
// survive as is.
func configValue(v string) string {
	if v != strings.TrimSpace(v) || strings.HasPrefix(v, `"`) || strings.ContainsFunc(v, unicode.IsControl) {
		return strconv.Quote(v)
	}
	return v
}

// byteSize is a flag value in bytes, written 1048576, 512KiB, 32MiB or 1GiB.
type byteSize int64

func (b *byteSize) String() string {
	for _, u := range []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if int64(*b) >= u.n && int64(*b)%u.n == 0 {
			return strconv.FormatInt(int64(*b)/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.s) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.s)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("want a positive size such as 32MiB")
	}
	*b = byteSize(n * mult)
	return nil
}

func (b *byteSize) Type() string { return "size" }

// readAPIKeys reads NAME KEY or NAME sha256:HEX lines into key digests.
func readAPIKeys(path string) (map[[32]byte]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--api-keys: %w", err)
	}
	out := map[[32]byte]string{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("--api-keys: %s:%d: want NAME KEY or NAME sha256:HEX", path, n+1)
		}
		var d [32]byte
		if h, ok := strings.CutPrefix(fields[1], "sha256:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("--api-keys: %s:%d: sha256: wants 64 hex digits", path, n+1)
			}
			copy(d[:], b)
		} else {
			if len(fields[1]) < 16 {
				return nil, fmt.Errorf("--api-keys: %s:%d: the key of %s is shorter than 16 characters", path, n+1, fields[0])
			}
			d = sha256.Sum256([]byte(fields[1]))
		}
		out[d] = fields[0]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--api-keys: %s names no system", path)
	}
	return out, nil
}

// tlsConfig builds the HTTPS settings, or nil without --tls-cert.
func (f *serveFlags) tlsConfig() (*tls.Config, error) {
	if f.tlsCert == "" && f.tlsKey == "" {
		if f.clientCA != "" {
			return nil, errors.New("--client-ca needs HTTPS (--tls-cert and --tls-key)")
		}
		return nil, nil
	}
	if f.tlsCert == "" || f.tlsKey == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	// A client may present a certificate: a registered system's is known
	// by its issuer and serial (semnat msign systems add --cert), and
	// under --client-ca also verified.
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
	if f.clientCA != "" {
		certs, err := loadCertificates([]string{f.clientCA})
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		cfg.ClientCAs, cfg.ClientAuth = certPool(certs), tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// redactURL hides the password of a URL value (a --store DSN).
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return v
}

// openStore opens --store, or SQLite in the data directory; a store open
// to other users is a warning on log.
func (f *serveFlags) openStore(log *slog.Logger) (*store.Store, error) {
	dsn := f.storeDSN
	if dsn == "" {
		dsn = filepath.Join(f.data, "semnat.db")
	}
	st, err := store.Open(dsn, store.Options{Warn: func(msg string) { log.Warn(msg) }})
	if err != nil {
		return nil, withCode(exitFailed, errors.New(strings.ReplaceAll(err.Error(), dsn, redactURL(dsn))))
	}
	return st, nil
}

// mobileClient is the MSSP client of --mssp (nil without it): the phones'
// certificates must chain to roots (with inter as intermediates).
func (f *serveFlags) mobileClient(roots, inter *x509.CertPool) (*mobileid.Client, error) {
	if f.mssp == "" {
		return nil, nil
	}
	opts := mobileid.ClientOptions{Roots: roots, Intermediates: inter, HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	var sec []byte
	if f.msspSecretFile != "" {
		b, err := secret.FromFile(f.msspSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--mssp-secret-file: %w", err)
		}
		sec = b
	} else if v := os.Getenv("SEMNAT_MSSP_SECRET"); v != "" {
		sec = []byte(v)
	}
	if mobileFace(f.mssp, f.msspFace) == mobileid.FaceETSI {
		opts.APID, opts.APPassword = f.msspClient, string(sec)
	} else {
		opts.RelyingPartyName, opts.RelyingPartyUUID = f.msspClient, string(sec)
	}
	return newMobileClient(f.mssp, f.msspFace, opts)
}

// logger is the server's structured log on w: one line per request (with
// its request id) at info, in --log-format.
func (f *serveFlags) logger(w io.Writer, verbose bool) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	if verbose {
		lvl = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

// hostConfig fills the settings of the host every service is mounted on.
func (f *serveFlags) hostConfig(cfg *server.Config) error {
	proxies, err := service.ParseCIDRs(f.trustedProxies)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--trusted-proxies: %w", err))
	}
	cfg.TrustedProxies, cfg.TLS = proxies, f.tlsCert != ""
	return nil
}
