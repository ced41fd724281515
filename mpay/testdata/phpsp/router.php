<?php
// An MPay service provider written independently of semnat's Go code, from
// its WSDL only: PHP's SoapServer (ext-soap) serves IServiceProvider, and
// WS-Security is done with xmlsec1 (PHP's SoapServer cannot sign or verify
// WS-Security by itself): MPay's request is verified with MPay's
// certificate, the answer (faults too) signed with the SP's key.
// Run under `php -S 127.0.0.1:PORT router.php` with SP_DIR holding
// IServiceProvider.wsdl/.xsd, mpay.pem, sp-key.pem, sp-cert.pem; the
// payments counted are kept in SP_DIR/payments.json (GET /payments).

const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SOAPENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const X509V3 = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3';

$dir = getenv('SP_DIR');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

if ($_SERVER['REQUEST_METHOD'] === 'GET' && $path === '/payments') {
    header('Content-Type: application/json');
    echo is_file("$dir/payments.json") ? file_get_contents("$dir/payments.json") : '{}';
    return true;
}
if ($_SERVER['REQUEST_METHOD'] === 'GET' && $path === '/') {
    echo "PHP SP";
    return true;
}
if ($_SERVER['REQUEST_METHOD'] !== 'POST' || $path !== '/soap') {
    http_response_code(404);
    return true;
}

function xmlsec(array $args): array {
    $cmd = 'xmlsec1 ' . implode(' ', array_map('escapeshellarg', $args)) . ' 2>&1';
    exec($cmd, $out, $rc);
    return [$rc, implode("\n", $out)];
}

function idArgs(): array {
    return ['--id-attr:Id', SOAPENV . ':Body', '--id-attr:Id', WSU . ':Timestamp', '--id-attr:Id', WSSE . ':BinarySecurityToken'];
}

// verifyRequest checks MPay's WS-Security signature; the Body returned is
// the one the signature covers.
function verifyRequest(string $raw, string $dir): string {
    if (strlen($raw) > 1 << 20 || stripos($raw, '<!DOCTYPE') !== false) {
        throw new SoapFault('Client', 'AuthenticationFailed: message refused (over 1 MiB, or a DTD)');
    }
    $tmp = tempnam(sys_get_temp_dir(), 'req');
    file_put_contents($tmp, $raw);
    [$rc, $out] = xmlsec(array_merge(['--verify', '--pubkey-cert-pem', "$dir/mpay.pem"], idArgs(), [$tmp]));
    unlink($tmp);
    if ($rc !== 0) {
        throw new SoapFault('Client', 'AuthenticationFailed: the request is not signed by MPay');
    }
    $doc = new DOMDocument();
    $doc->loadXML($raw, LIBXML_NONET);
    $xp = new DOMXPath($doc);
    $xp->registerNamespace('s', SOAPENV);
    $xp->registerNamespace('wsu', WSU);
    $xp->registerNamespace('ds', DS);
    $body = $xp->query('/s:Envelope/s:Body')->item(0);
    $id = $body ? $body->getAttributeNS(WSU, 'Id') : '';
    // No signature wrapping: the Envelope's own Body is the one referenced, its ID given once.
    if ($id === '' || $xp->query("//*[@wsu:Id='$id']")->length !== 1
        || $xp->query("//ds:SignedInfo/ds:Reference[@URI='#$id']")->length !== 1) {
        throw new SoapFault('Client', 'AuthenticationFailed: the signed Body is not the Body');
    }
    $expires = $xp->query('//wsu:Timestamp/wsu:Expires')->item(0);
    if (!$expires || strtotime($expires->textContent) < time() - 60) {
        throw new SoapFault('Client', 'AuthenticationFailed: expired');
    }
    // SoapServer gets the verified Body without the Security header.
    foreach ($xp->query('/s:Envelope/s:Header') as $h) {
        $h->parentNode->removeChild($h);
    }
    return $doc->saveXML();
}

// signAnswer adds a WS-Security header (Timestamp, BinarySecurityToken,
// a signature template over Body and Timestamp) and has xmlsec1 sign it.
function signAnswer(string $xml, string $dir): string {
    $doc = new DOMDocument();
    $doc->loadXML($xml);
    $env = $doc->documentElement;
    $body = null;
    foreach ($env->childNodes as $n) {
        if ($n instanceof DOMElement && $n->localName === 'Body') { $body = $n; }
    }
    $header = $doc->createElementNS($env->namespaceURI, $env->prefix . ':Header');
    $env->insertBefore($header, $body);
    $sec = $doc->createElementNS(WSSE, 'wsse:Security');
    $sec->setAttributeNS(WSU, 'wsu:dummy', 'x'); $sec->removeAttributeNS(WSU, 'dummy');
    $header->appendChild($sec);
    $n = bin2hex(random_bytes(8));
    $ts = $doc->createElementNS(WSU, 'wsu:Timestamp');
    $ts->setAttributeNS(WSU, 'wsu:Id', "TS-$n");
    $ts->appendChild($doc->createElementNS(WSU, 'wsu:Created', gmdate('Y-m-d\TH:i:s\Z')));
    $ts->appendChild($doc->createElementNS(WSU, 'wsu:Expires', gmdate('Y-m-d\TH:i:s\Z', time() + 300)));
    $sec->appendChild($ts);
    $pem = file_get_contents("$dir/sp-cert.pem");
    $der = preg_replace('/-----[^-]+-----|\s/', '', $pem);
    $bst = $doc->createElementNS(WSSE, 'wsse:BinarySecurityToken', $der);
    $bst->setAttribute('EncodingType', 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary');
    $bst->setAttribute('ValueType', X509V3);
    $bst->setAttributeNS(WSU, 'wsu:Id', "X509-$n");
    $sec->appendChild($bst);
    $body->setAttributeNS(WSU, 'wsu:Id', "Body-$n");
    $sig = $doc->createElementNS(DS, 'ds:Signature');
    $sec->appendChild($sig);
    $si = $sig->appendChild($doc->createElementNS(DS, 'ds:SignedInfo'));
    $si->appendChild($doc->createElementNS(DS, 'ds:CanonicalizationMethod'))->setAttribute('Algorithm', C14N);
    $si->appendChild($doc->createElementNS(DS, 'ds:SignatureMethod'))->setAttribute('Algorithm', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    foreach (["TS-$n", "Body-$n"] as $id) {
        $ref = $si->appendChild($doc->createElementNS(DS, 'ds:Reference'));
        $ref->setAttribute('URI', "#$id");
        $ref->appendChild($doc->createElementNS(DS, 'ds:Transforms'))
            ->appendChild($doc->createElementNS(DS, 'ds:Transform'))->setAttribute('Algorithm', C14N);
        $ref->appendChild($doc->createElementNS(DS, 'ds:DigestMethod'))->setAttribute('Algorithm', 'http://www.w3.org/2001/04/xmlenc#sha256');
        $ref->appendChild($doc->createElementNS(DS, 'ds:DigestValue'));
    }
    $sig->appendChild($doc->createElementNS(DS, 'ds:SignatureValue'));
    $r = $sig->appendChild($doc->createElementNS(DS, 'ds:KeyInfo'))
        ->appendChild($doc->createElementNS(WSSE, 'wsse:SecurityTokenReference'))
        ->appendChild($doc->createElementNS(WSSE, 'wsse:Reference'));
    $r->setAttribute('URI', "#X509-$n");
    $r->setAttribute('ValueType', X509V3);
    $tmp = tempnam(sys_get_temp_dir(), 'ans');
    file_put_contents($tmp, $doc->saveXML());
    [$rc, $out] = xmlsec(array_merge(['--sign', '--privkey-pem', "$dir/sp-key.pem", '--output', "$tmp.signed"], idArgs(), [$tmp]));
    unlink($tmp);
    if ($rc !== 0) {
        error_log("xmlsec1 --sign: $out");
        http_response_code(500);
        exit;
    }
    $signed = file_get_contents("$tmp.signed");
    unlink("$tmp.signed");
    return $signed;
}

function serviceFault(string $code, string $message): SoapFault {
    $detail = new SoapVar('<ns1:ServiceFault xmlns:ns1="https://mpay.gov.md/"><ns1:Code>' . $code . '</ns1:Code><ns1:Message>'
        . htmlspecialchars($message) . '</ns1:Message></ns1:ServiceFault>', XSD_ANYXML);
    return new SoapFault($code === 'InternalError' ? 'Server' : 'Client', $message, null, $detail);
}

class ServiceProvider {
    public function __construct(private string $dir) {}

    public function GetOrderDetails($params) {
        $q = $params->query;
        if ($q->ServiceID !== 'PHP01' || $q->OrderKey !== 'PHP-1') {
            throw serviceFault('UnknownOrder', "no order {$q->OrderKey}");
        }
        $paid = array_sum(array_map(fn($p) => $p['amount'], $this->payments()));
        return ['GetOrderDetailsResult' => ['OrderDetails' => [[
            'ServiceID' => 'PHP01', 'OrderKey' => 'PHP-1', 'Reason' => 'Taxă de stat (PHP)',
            'Status' => $paid >= 15000 ? 'Paid' : 'Active', 'IssuedAt' => '2026-01-02T10:00:00Z',
            'TotalAmountDue' => '150.00', 'Currency' => 'MDL',
            'AllowPartialPayments' => false, 'AllowAdvancePayments' => false,
            'CustomerType' => 'Person', 'CustomerName' => 'Ion Popescu',
            'Lines' => ['OrderLine' => [['LineID' => '1', 'Reason' => 'Taxă', 'AmountDue' => '150.00',
                'DestinationAccount' => ['BankCode' => 'TREZMD2X', 'BankAccount' => 'MD00TREZ000000000000000000',
                    'BeneficiaryName' => 'Trezoreria de Stat']]]],
        ]]]];
    }

    public function ConfirmOrderPayment($params) {
        $c = $params->confirmation;
        if ($c->ServiceID !== 'PHP01' || $c->OrderKey !== 'PHP-1') {
            throw serviceFault('UnknownOrder', "no order {$c->OrderKey}");
        }
        // PaymentID is the idempotency key: a payment is counted once.
        $f = fopen("$this->dir/payments.lock", 'c');
        flock($f, LOCK_EX);
        $p = $this->payments();
        $id = (string)$c->PaymentID;
        $amount = (int)round(((float)$c->TotalAmount) * 100);
        if (!isset($p[$id])) {
            $p[$id] = ['amount' => $amount, 'invoice' => (string)$c->InvoiceID, 'calls' => 0];
        }
        $p[$id]['calls']++;
        file_put_contents("$this->dir/payments.json", json_encode($p));
        flock($f, LOCK_UN);
        return [];
    }

    private function payments(): array {
        return is_file("$this->dir/payments.json") ? json_decode(file_get_contents("$this->dir/payments.json"), true) : [];
    }
}

ini_set('soap.wsdl_cache_enabled', '0');
$server = new SoapServer("$dir/IServiceProvider.wsdl", ['cache_wsdl' => WSDL_CACHE_NONE, 'features' => SOAP_SINGLE_ELEMENT_ARRAYS]);
$server->setObject(new ServiceProvider($dir));
try {
    $request = verifyRequest(file_get_contents('php://input'), $dir);
    ob_start();
    $server->handle($request);
    $answer = ob_get_clean();
} catch (SoapFault $f) {
    // Refused before SoapServer saw it (SoapServer::fault would end the script unsigned).
    http_response_code(500);
    $answer = '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="' . SOAPENV . '"><SOAP-ENV:Body><SOAP-ENV:Fault>'
        . '<faultcode>SOAP-ENV:Client</faultcode><faultstring>' . htmlspecialchars($f->getMessage()) . '</faultstring>'
        . '<detail><ns1:ServiceFault xmlns:ns1="https://mpay.gov.md/"><ns1:Code>AuthenticationFailed</ns1:Code></ns1:ServiceFault></detail>'
        . '</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>';
}
header_remove('Content-Length');
echo signAnswer($answer, $dir);
return true;
