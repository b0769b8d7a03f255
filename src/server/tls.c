/*
 * HTTPS certificates (see tls.h). Each load makes a generation: the parsed
 * chain and key. The newest generation answers new handshakes; older ones
 * are kept until vmdb_tls_free, because GnuTLS does not take ownership of
 * what the callback returns and a handshake started before a reload may
 * still be signing with the old key. A reload costs a few kilobytes, once
 * per SIGHUP.
 */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/tls.h"
#include "util/file.h"
#include "vmdb/common.h"

#define TLS_MAX_CHAIN 16
#define TLS_MAX_FILE ((size_t)1 << 20)

typedef struct tls_gen {
    gnutls_pcert_st chain[TLS_MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    char fingerprint[96];
    struct tls_gen *older;
} tls_gen;

struct vmdb_tls {
    char *cert_path, *key_path;
    pthread_mutex_t mu;
    tls_gen *cur; /* newest; ->older links the rest */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static vmdb_tls *g_installed;

static void gen_free(tls_gen *g)
{
    if (!g)
        return;
    for (unsigned i = 0; i < g->n; i++)
        gnutls_pcert_deinit(&g->chain[i]);
    if (g->key)
        gnutls_privkey_deinit(g->key);
    free(g);
}

static void fingerprint(const gnutls_datum_t *der, char *out, size_t outlen)
{
    unsigned char md[32];
    out[0] = 0;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, md) != 0)
        return;
    size_t used = 0;
    for (size_t i = 0; i < sizeof md && used + 3 < outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, i ? ":%02X" : "%02X", md[i]);
}

/* Loads and checks the pair into a new generation. */
static int gen_load(tls_gen **out, const char *cert_path, const char *key_path, char *why,
                    size_t whylen)
{
    *out = NULL;
    vmdb_buf cert = VMDB_BUF_INIT, key = VMDB_BUF_INIT;
    gnutls_certificate_credentials_t probe = NULL;
    tls_gen *g = calloc(1, sizeof *g);
    int rc = 0, gr = 0;
    if (!g) {
        rc = VMDB_ENOMEM;
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    if (vmdb_file_read(cert_path, &cert, TLS_MAX_FILE) != 0) {
        rc = VMDB_EIO;
        snprintf(why, whylen, "cannot read the certificate file %s", cert_path);
        goto done;
    }
    if (vmdb_file_read(key_path, &key, TLS_MAX_FILE) != 0) {
        rc = VMDB_EIO;
        snprintf(why, whylen, "cannot read the key file %s", key_path);
        goto done;
    }
    gnutls_datum_t cd = {cert.ptr, (unsigned)cert.len}, kd = {key.ptr, (unsigned)key.len};
    /* The credentials call checks what the callback path does not: that
     * the key belongs to the leaf certificate. */
    if ((gr = gnutls_certificate_allocate_credentials(&probe)) != 0) {
        rc = VMDB_ECRYPTO;
        snprintf(why, whylen, "GnuTLS: %s", gnutls_strerror(gr));
        goto done;
    }
    if ((gr = gnutls_certificate_set_x509_key_mem2(probe, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) <
        0) {
        rc = VMDB_EINVAL;
        snprintf(why, whylen, "%s and %s are not a PEM certificate and its unencrypted key: %s",
                 cert_path, key_path, gnutls_strerror(gr));
        goto done;
    }
    g->n = TLS_MAX_CHAIN;
    if ((gr = gnutls_pcert_list_import_x509_raw(g->chain, &g->n, &cd, GNUTLS_X509_FMT_PEM, 0)) <
        0) {
        g->n = 0;
        rc = VMDB_EINVAL;
        snprintf(why, whylen, "%s: not a PEM certificate chain of at most %d: %s", cert_path,
                 TLS_MAX_CHAIN, gnutls_strerror(gr));
        goto done;
    }
    if ((gr = gnutls_privkey_init(&g->key)) != 0 ||
        (gr = gnutls_privkey_import_x509_raw(g->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) != 0) {
        rc = VMDB_EINVAL;
        snprintf(why, whylen, "%s: not an unencrypted PEM private key: %s", key_path,
                 gnutls_strerror(gr));
        goto done;
    }
    fingerprint(&g->chain[0].cert, g->fingerprint, sizeof g->fingerprint);
    *out = g;
    g = NULL;
done:
    gen_free(g);
    if (probe)
        gnutls_certificate_free_credentials(probe);
    vmdb_buf_free(&cert);
    vmdb_buf_free(&key);
    return rc;
}

int vmdb_tls_open(vmdb_tls **out, const char *cert_path, const char *key_path, char *why,
                  size_t whylen)
{
    *out = NULL;
    vmdb_tls *t = calloc(1, sizeof *t);
    int rc = VMDB_ENOMEM;
    if (!t || !(t->cert_path = strdup(cert_path)) || !(t->key_path = strdup(key_path))) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&t->mu, NULL);
    if ((rc = gen_load(&t->cur, cert_path, key_path, why, whylen)) != 0) {
        pthread_mutex_destroy(&t->mu);
        goto fail;
    }
    *out = t;
    return 0;
fail:
    if (t) {
        free(t->cert_path);
        free(t->key_path);
        free(t);
    }
    return rc;
}

int vmdb_tls_reload(vmdb_tls *t, char *why, size_t whylen)
{
    tls_gen *g = NULL;
    int rc = gen_load(&g, t->cert_path, t->key_path, why, whylen);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&t->mu);
    g->older = t->cur;
    t->cur = g;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void vmdb_tls_fingerprint(vmdb_tls *t, char *out, size_t outlen)
{
    pthread_mutex_lock(&t->mu);
    snprintf(out, outlen, "%s", t->cur->fingerprint);
    pthread_mutex_unlock(&t->mu);
}

static int retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)s, (void)req_ca_rdn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    int rc = -1;
    pthread_mutex_lock(&g_mu);
    vmdb_tls *t = g_installed;
    if (t) {
        pthread_mutex_lock(&t->mu);
        *pcert = t->cur->chain;
        *pcert_length = t->cur->n;
        *privkey = t->cur->key;
        pthread_mutex_unlock(&t->mu);
        rc = 0;
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

gnutls_certificate_retrieve_function2 *vmdb_tls_install(vmdb_tls *t)
{
    pthread_mutex_lock(&g_mu);
    g_installed = t;
    pthread_mutex_unlock(&g_mu);
    return retrieve;
}

const char *vmdb_tls_priorities(vmdb_tls_min min)
{
    return min == VMDB_TLS_MIN_13 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
                                  : "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
}

void vmdb_tls_free(vmdb_tls *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&g_mu);
    if (g_installed == t)
        g_installed = NULL;
    pthread_mutex_unlock(&g_mu);
    for (tls_gen *g = t->cur, *next = NULL; g; g = next) {
        next = g->older;
        gen_free(g);
    }
    pthread_mutex_destroy(&t->mu);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}
