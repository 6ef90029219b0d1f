#!/usr/bin/python3
"""jwttool.py -- mints JWTs for the integration tests: HS256 with the standard library
(hmac, hashlib, base64), RS256 and ES256 by signing with the openssl command line tool.

As a module:

    import jwttool
    tok = jwttool.mint({'sub': 'alice', 'exp': int(time.time()) + 60}, 'HS256', 'secret')
    priv, pub = jwttool.genkey('ES256', tmpdir)     # PEM files; pub goes to jwt_public_key
    tok = jwttool.mint({'sub': 'bob'}, 'ES256', priv)
    bad = jwttool.mint({}, 'none')                  # alg none, empty signature
    tok = jwttool.mint({}, 'HS256', open(pub).read(), header={'alg': 'HS256'})  # confusion

From the shell:

    jwttool.py mint --alg HS256 --key SECRET '{"sub":"alice","exp":1900000000}'
    jwttool.py mint --alg RS256 --key rsa.pem --header '{"kid":"k1"}' '{"sub":"bob"}'
    jwttool.py genkey --alg ES256 DIR      # prints the private and public PEM paths
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _json(obj):
    return json.dumps(obj, separators=(',', ':')).encode()


def _der_to_raw(der, size=32):
    """A DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) as JOSE's r || s."""
    if der[0] != 0x30:
        raise ValueError('not a DER sequence')
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b''
    for _ in range(2):
        if der[i] != 0x02:
            raise ValueError('not a DER integer')
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b'\0')
        out += v.rjust(size, b'\0')
        i += 2 + n
    return out


def _openssl_sign(key_path, data):
    p = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', key_path], input=data,
                       capture_output=True, check=True)
    return p.stdout


def sign(alg, key, signing_input):
    """Signature bytes of signing_input (bytes) under alg; key is the HS256 secret (str or
    bytes) or the path of a PEM private key."""
    if alg == 'HS256':
        if isinstance(key, str):
            key = key.encode()
        return hmac.new(key, signing_input, hashlib.sha256).digest()
    if alg == 'RS256':
        return _openssl_sign(key, signing_input)
    if alg == 'ES256':
        return _der_to_raw(_openssl_sign(key, signing_input))
    return b''


def mint(claims, alg='HS256', key=None, header=None, sign_alg=None):
    """A compact JWS. header replaces the default {"alg":alg,"typ":"JWT"} (claims and header
    may also be bytes, used as they are); sign_alg signs with another algorithm than the
    header names."""
    if header is None:
        header = {'alg': alg, 'typ': 'JWT'}
    h = header if isinstance(header, bytes) else _json(header)
    c = claims if isinstance(claims, bytes) else _json(claims)
    signing_input = (b64url(h) + '.' + b64url(c)).encode()
    sig = sign(sign_alg or alg, key, signing_input)
    return signing_input.decode() + '.' + b64url(sig)


def genkey(alg, directory):
    """Makes a key pair for RS256 (RSA 2048) or ES256 (P-256) in directory; returns the paths
    (private PEM, public PEM)."""
    priv = os.path.join(directory, alg.lower() + '.key')
    pub = os.path.join(directory, alg.lower() + '.pub')
    if alg == 'RS256':
        opts = ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
    elif alg == 'ES256':
        opts = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
    else:
        raise ValueError('genkey: RS256 or ES256, not %s' % alg)
    subprocess.run(['openssl', 'genpkey'] + opts + ['-out', priv], check=True,
                   capture_output=True)
    subprocess.run(['openssl', 'pkey', '-in', priv, '-pubout', '-out', pub], check=True,
                   capture_output=True)
    return priv, pub


def main(argv):
    ap = argparse.ArgumentParser(prog='jwttool.py', description='mint JWTs for tests')
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('mint', help='print a token')
    m.add_argument('--alg', default='HS256', help='HS256, RS256, ES256 or none')
    m.add_argument('--key', help='HS256 secret, or PEM private key file')
    m.add_argument('--header', help='JSON merged into the header')
    m.add_argument('claims', help='claims JSON object')
    g = sub.add_parser('genkey', help='make a key pair, print the PEM paths')
    g.add_argument('--alg', required=True, help='RS256 or ES256')
    g.add_argument('dir')
    a = ap.parse_args(argv)
    if a.cmd == 'genkey':
        print('\n'.join(genkey(a.alg, a.dir)))
        return 0
    header = {'alg': a.alg, 'typ': 'JWT'}
    if a.header:
        header.update(json.loads(a.header))
    if a.alg != 'none' and a.key is None:
        ap.error('--key is needed for %s' % a.alg)
    print(mint(json.loads(a.claims), a.alg, a.key, header=header))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
