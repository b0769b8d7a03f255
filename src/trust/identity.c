/*
 * Identity key storage. The key never leaves this module except as the
 * in-memory struct the signer uses; nothing logs it.
 */
#include "trust/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/base58.h"
#include "vmdb/json.h"

static int finish(vmdb_identity *id)
{
    vmdb_buf b = VMDB_BUF_INIT;
    vmdb_hex_encode(id->pk_hex, id->pk, 32);
    int rc = vmdb_base58_encode(&b, VMDB_SLICE(id->pk, 32));
    if (rc == 0 && b.len < sizeof id->address) {
        memcpy(id->address, b.ptr, b.len);
        id->address[b.len] = 0;
    }
    vmdb_buf_free(&b);
    return rc;
}

int vmdb_identity_generate(const char *path, vmdb_identity *out)
{
    vmdb_identity id;
    vmdb_buf text = VMDB_BUF_INIT;
    struct stat st;
    if (stat(path, &st) == 0) {
        LOG_ERROR("identity key %s already exists; not overwriting it", path);
        return VMDB_EBUSY;
    }
    if (sodium_init() < 0)
        return VMDB_ECRYPTO;
    crypto_sign_keypair(id.pk, id.sk);
    int rc = vmdb_buf_putc(&text, '[');
    for (int i = 0; rc == 0 && i < 64; i++)
        rc = vmdb_sb_printf(&text, i ? ",%u" : "%u", id.sk[i]);
    rc = rc ? rc : vmdb_sb_puts(&text, "]\n");
    rc = rc ? rc : vmdb_file_write_atomic(path, text.ptr, text.len, 0600);
    sodium_memzero(text.ptr, text.len);
    vmdb_buf_free(&text);
    if (rc == 0)
        rc = finish(&id);
    if (rc == 0 && out)
        *out = id;
    sodium_memzero(&id, sizeof id);
    if (rc == 0)
        LOG_INFO("identity key created at %s", path);
    return rc;
}

int vmdb_identity_load(vmdb_identity *out, const char *path, bool create)
{
    int rc = 0;
    vmdb_json_doc *doc = NULL;
    uint8_t raw[8192];
    ssize_t n = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT && create)
            return vmdb_identity_generate(path, out);
        LOG_ERROR("cannot open identity key %s: %s", path, strerror(errno));
        return errno == ENOENT ? VMDB_ENOTFOUND : VMDB_EIO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = VMDB_EIO;
        goto done;
    }
    if (st.st_mode & 077) {
        LOG_ERROR("identity key %s has mode %03o; it must be readable by its owner only "
                  "(chmod 600) — refusing to start",
                  path, (unsigned)(st.st_mode & 0777));
        rc = VMDB_EBUSY;
        goto done;
    }
    n = read(fd, raw, sizeof raw);
    if (n <= 0 || (size_t)n == sizeof raw) {
        rc = VMDB_EINVAL;
        goto done;
    }
    if (vmdb_json_parse(&doc, VMDB_SLICE(raw, (size_t)n), NULL) != 0) {
        rc = VMDB_EINVAL;
        goto done;
    }
    const vmdb_json *a = vmdb_json_doc_root(doc);
    if (vmdb_json_typeof(a) != VMDB_JSON_ARRAY || vmdb_json_size(a) != 64) {
        rc = VMDB_EINVAL;
        goto done;
    }
    vmdb_identity id;
    for (size_t i = 0; i < 64; i++) {
        const vmdb_json *v = vmdb_json_at(a, i);
        double d = vmdb_json_number(v);
        if (vmdb_json_typeof(v) != VMDB_JSON_NUMBER || !vmdb_json_is_integer_literal(v) || d < 0 ||
            d > 255) {
            rc = VMDB_EINVAL;
            goto done;
        }
        id.sk[i] = (uint8_t)d;
    }
    /* The public half must be the seed's. */
    uint8_t pk[32], sk[64];
    if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, id.sk) != 0 ||
        sodium_memcmp(pk, id.sk + 32, 32) != 0) {
        sodium_memzero(sk, sizeof sk);
        sodium_memzero(&id, sizeof id);
        rc = VMDB_EINVAL;
        goto done;
    }
    sodium_memzero(sk, sizeof sk);
    memcpy(id.pk, pk, 32);
    if ((rc = finish(&id)) == 0)
        *out = id;
    sodium_memzero(&id, sizeof id);
done:
    if (rc == VMDB_EINVAL)
        LOG_ERROR("identity key %s is not a 64-byte Solana keypair file whose public half "
                  "matches its seed",
                  path);
    sodium_memzero(raw, sizeof raw);
    vmdb_json_doc_free(doc);
    close(fd);
    return rc;
}

void vmdb_identity_clear(vmdb_identity *id)
{
    if (id)
        sodium_memzero(id, sizeof *id);
}
