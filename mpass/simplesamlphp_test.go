package mpass

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// simpleSAMLphpDir is where Debian's simplesamlphp package installs it.
const simpleSAMLphpDir = "/usr/share/simplesamlphp"

var rePHPServer = regexp.MustCompile(`Development Server \((http://127\.0\.0\.1:\d+)\) started`)

// startSimpleSAMLphp runs Debian's SimpleSAMLphp as a SAML service
// provider ("default-sp", entity id spEntity, signing its AuthnRequests and
// LogoutRequests with RSA-SHA256) under PHP's built-in server, with MPass's
// own metadata (metaXML) as its identity provider's. /app requires a login
// and shows the NameID and attributes as JSON; /bye logs out. It returns
// the server's URL.
func startSimpleSAMLphp(t *testing.T, spEntity string, idpEntity string, metaXML []byte) string {
	t.Helper()
	php := testtool.Require(t, "php")
	if _, err := os.Stat(filepath.Join(simpleSAMLphpDir, "lib", "_autoload.php")); err != nil {
		testtool.Unavailable(t, "SimpleSAMLphp is not installed", "install: apt-get install simplesamlphp php-xml php-mbstring")
	}
	if out, err := exec.Command(php, "-r", `exit(class_exists("DOMDocument") ? 0 : 1);`).CombinedOutput(); err != nil {
		testtool.Unavailable(t, "php has no DOM extension: "+string(out), "install: apt-get install php-xml")
	}
	dir := t.TempDir()
	var phpErrors testtool.SyncBuffer
	key, cert, err := SelfSigned("simplesamlphp.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	for _, d := range []string{"cert", "tmp", "sessions", "data"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	files := map[string]string{
		"cert/sp.key": pemOf("PRIVATE KEY", keyDER),
		"cert/sp.crt": pemOf("CERTIFICATE", cert.Raw),
		"idp.xml":     string(metaXML),
		"config/config.php": fmt.Sprintf(`<?php
require '/etc/simplesamlphp/config.php';
$config['baseurlpath'] = '/';
$config['certdir'] = %[1]q;
$config['loggingdir'] = %[2]q;
$config['logging.handler'] = 'file';
$config['logging.level'] = SimpleSAML\Logger::DEBUG;
$config['datadir'] = %[3]q;
$config['tempdir'] = %[4]q;
$config['secretsalt'] = %[5]q;
$config['auth.adminpassword'] = %[5]q;
$config['store.type'] = 'phpsession';
$config['session.phpsession.savepath'] = %[6]q;
$config['metadata.sources'] = [['type' => 'xml', 'file' => %[7]q]];
$config['admin.checkforupdates'] = false;
$config['session.cookie.secure'] = false;
$config['session.cookie.samesite'] = null;
$config['statistics.out'] = [];
`, filepath.Join(dir, "cert")+"/", dir+"/", filepath.Join(dir, "data")+"/", filepath.Join(dir, "tmp"), newID(),
			filepath.Join(dir, "sessions"), filepath.Join(dir, "idp.xml")),
		"config/authsources.php": fmt.Sprintf(`<?php
$config = [
  'admin' => ['core:AdminPassword'],
  'default-sp' => ['saml:SP',
    'entityID' => %[1]q,
    'idp' => %[2]q,
    'privatekey' => 'sp.key',
    'certificate' => 'sp.crt',
    'sign.authnrequest' => true,
    'sign.logout' => true,
    'redirect.sign' => true,
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  ],
];
`, spEntity, idpEntity),
		"config/acl.php": "<?php\n$config = [];\n",
		"app.php": `<?php
require_once '` + simpleSAMLphpDir + `/lib/_autoload.php';
$as = new \SimpleSAML\Auth\Simple('default-sp');
$as->requireAuth();
header('Content-Type: application/json');
echo json_encode(['nameId' => $as->getAuthData('saml:sp:NameID')->getValue(), 'attributes' => $as->getAttributes(),
  'sessionIndex' => $as->getAuthData('saml:sp:SessionIndex')]);
`,
		"bye.php": `<?php
require_once '` + simpleSAMLphpDir + `/lib/_autoload.php';
$as = new \SimpleSAML\Auth\Simple('default-sp');
if (isset($_GET['done'])) { header('Content-Type: application/json'); echo json_encode(['loggedIn' => $as->isAuthenticated()]); exit; }
$as->logout(['ReturnTo' => '/bye?done=1']);
`,
		"router.php": `<?php
$p = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($p === '/app') { require __DIR__ . '/app.php'; return true; }
if ($p === '/bye') { require __DIR__ . '/bye.php'; return true; }
return false;
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(php, "-S", "127.0.0.1:0", "-t", filepath.Join(simpleSAMLphpDir, "www"), filepath.Join(dir, "router.php"))
	cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+filepath.Join(dir, "config"))
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "simplesamlphp.log"))
			t.Logf("SimpleSAMLphp log:\n%s\nphp:\n%s", log, phpErrors.String())
		}
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := rePHPServer.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() { // keep the pipe drained, errors in the log
					if strings.Contains(sc.Text(), "PHP ") {
						phpErrors.Write([]byte(sc.Text() + "\n"))
					}
				}
			}()
			return m[1]
		}
	}
	t.Fatalf("php -S did not start: %v", sc.Err())
	return ""
}

// TestSimpleSAMLphpRelyingService: Debian's SimpleSAMLphp, configured with
// MPass's metadata as published, logs a person in through MPass with the
// phone (its signed AuthnRequest, its own checks of our Response), reads
// the IDNP and attributes, and logs out through MPass's single logout.
func TestSimpleSAMLphpRelyingService(t *testing.T) {
	e := newEnv(t, nil)
	_, meta := e.get(nil, e.url+PathMetadata)
	const spEntity = "urn:semnat:test:simplesamlphp"
	sp := startSimpleSAMLphp(t, spEntity, e.url+PathMetadata, meta)
	e.registerSP(sp+"/module.php/saml/sp/metadata.php/default-sp", SPOptions{})

	user := mobileid.GeneratedUser(2)
	c := newBrowserClient(t)
	resp, b := e.loginAtSP(c, sp+"/app", user)
	var got struct {
		NameID       string              `json:"nameId"`
		Attributes   map[string][]string `json:"attributes"`
		SessionIndex string              `json:"sessionIndex"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil {
		t.Fatalf("SimpleSAMLphp refuses our Response: %d %s\n%s", resp.StatusCode, resp.Request.URL, b)
	}
	if got.NameID != user.IDNP || strings.Join(got.Attributes["FirstName"], "") != user.GivenName ||
		strings.Join(got.Attributes["LastName"], "") != user.Surname || got.SessionIndex == "" {
		t.Fatalf("SimpleSAMLphp read: %+v", got)
	}

	// Single logout, started by SimpleSAMLphp.
	resp, b = e.get(c, sp+"/bye")
	if r, fb := e.followForms(c, b); r != nil { // a LogoutResponse over HTTP-POST
		resp, b = r, fb
	}
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"loggedIn":false}` || resp.Request.URL.Path != "/bye" {
		t.Fatalf("logout: %s", b)
	}
	if _, b := e.get(c, e.url+pathSession); !strings.Contains(string(b), `id="no-session"`) {
		t.Fatalf("the MPass session is still there:\n%s", b)
	}
}
