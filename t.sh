openssl genpkey -algorithm ed25519 -out mbox.pem
KEY=$(openssl pkey -in mbox.pem -pubout -outform DER | tail -c 32 | xxd -p -c 64)
MBOX=$(printf %s "$KEY" | xxd -r -p | sha256sum | cut -d' ' -f1)

signed() {  # METHOD PATH QUERY
  T=$(date +%s); N=$(openssl rand -hex 16)
  H=${R#*://}; H=${H%%/*}           # the Host: the relay's authority, as in its URL
  printf 'pigeon-request-v1\n%s\n%s\n%s\n%s\n%s\n%s' "$1" "$H" "$2" "$3" "$T" "$N" > msg
  SIG=$(openssl pkeyutl -sign -inkey mbox.pem -rawin -in msg | base64 -w0)
  curl -s -X "$1" "$R$2?$3" -H "x-pigeon-key: $KEY" -H "x-pigeon-time: $T" \
    -H "x-pigeon-nonce: $N" -H "x-pigeon-sig: $SIG"
}
signed GET    /v1/mailboxes/$MBOX 'after=0&limit=10'
