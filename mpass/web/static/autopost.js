// Posts the SAML Response form to the relying service at once.
document.getElementById('SAMLResponseForm').submit();
