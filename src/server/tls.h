/*
 * HTTPS certificates for vmdb serve: the certificate chain and private key
 * read from PEM files, checked (parsable, the key matches the leaf), and
 * handed to GnuTLS through libmicrohttpd's certificate callback, so that a
 * reload (SIGHUP) swaps them for new handshakes while the daemon, and the
 * connections already open, keep running.
 */
#ifndef VMDB_SERVER_TLS_H
#define VMDB_SERVER_TLS_H

#include <gnutls/abstract.h>
#include <stddef.h>

typedef struct vmdb_tls vmdb_tls;

/* The highest first TLS version accepted: "1.2" (default) or "1.3". */
typedef enum vmdb_tls_min { VMDB_TLS_MIN_12, VMDB_TLS_MIN_13 } vmdb_tls_min;

/* Reads and checks `cert_path` (a PEM chain, leaf first) and `key_path`
 * (a PEM private key, unencrypted). On failure `why` says what is wrong.
 * Errors: VMDB_EIO (unreadable), VMDB_EINVAL (not a certificate or key, or
 * the key does not match), VMDB_ENOMEM, VMDB_ECRYPTO. */
int vmdb_tls_open(vmdb_tls **out, const char *cert_path, const char *key_path, char *why,
                  size_t whylen);

/* Reads the two files again; on success new handshakes use them, on
 * failure the current pair stays and `why` says why. Same errors as
 * vmdb_tls_open. */
int vmdb_tls_reload(vmdb_tls *t, char *why, size_t whylen);

/* The current leaf's SHA-256 fingerprint, as upper-case hex pairs joined
 * by ':' (openssl x509 -fingerprint -sha256), into `out` (at least 96). */
void vmdb_tls_fingerprint(vmdb_tls *t, char *out, size_t outlen);

/* The retrieve function for MHD_OPTION_HTTPS_CERT_CALLBACK, serving `t`.
 * GnuTLS passes the callback no pointer of ours, so `t` is installed
 * process-wide: one vmdb_tls serves at a time (the last one installed). */
gnutls_certificate_retrieve_function2 *vmdb_tls_install(vmdb_tls *t);

/* The GnuTLS priority string for MHD_OPTION_HTTPS_PRIORITIES. */
const char *vmdb_tls_priorities(vmdb_tls_min min);

/* Frees every certificate and key ever loaded (accepts NULL); call it only
 * after the daemon has stopped, since handshakes may still use them. */
void vmdb_tls_free(vmdb_tls *t);

#endif
