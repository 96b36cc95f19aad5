#!/bin/sh
# How lab-cert.pem and lab-key.pem were made, once (they are data of the case, shipped as they
# are: the draw of a run must be a function of its seed alone). One self-signed certificate,
# ECDSA P-256 (cheap handshakes), valid 2000-2100 (a machine's wrong clock does not break
# it), naming every site the case can draw as a subjectAltName. The lab's clients trust
# this certificate and no other; it is no secret and protects nothing outside the lab.
# Run from this folder: sh make-cert.sh (needs openssl).
set -eu
names="shop blog api wiki docs forum news jobs"
san=$(for n in $names; do printf 'DNS:%s.example,' "$n"; done | sed 's/,$//')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/index.txt"
echo 01 > "$work/serial"
cat > "$work/ca.cnf" <<CNF
[ ca ]
default_ca = lab
[ lab ]
dir = $work
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
organizationName = optional
commonName = supplied
[ ext ]
subjectAltName = $san
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
CNF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out lab-key.pem
openssl req -new -key lab-key.pem -subj "/O=tcpdump-mystery lab/CN=webserver" -out "$work/req.csr"
openssl ca -batch -config "$work/ca.cnf" -selfsign -keyfile lab-key.pem -in "$work/req.csr" \
  -startdate 20000101000000Z -enddate 21000101000000Z -extensions ext -notext -out lab-cert.pem
