/*
 * API keys (TRUST.md, "API keys"): who may call which route. A key is the
 * text `vmdb_<id>_<secret>`: an 8-character id (lower-case hex) and 43
 * characters of unpadded base64url holding 32 random bytes. Only
 * SHA-256(secret bytes) is kept, in <data dir>/api_keys.json:
 *
 *   {"version":1,"keys":[{"created_ms":..,"hash":"<hex>","id":"..","note":..,
 *    "role":"read"|"write"|"admin","tables":[..]|null}, ...],"file_sig":"<hex>"}
 *
 * file_sig is the identity key's Ed25519 signature of "vmdb/v2/api-keys"
 * 0x00 || SHA-256(RFC 8785 form of the keys array), so that whoever can
 * write the data directory (the host) can delete the file or put back an
 * older one, but cannot add a key or widen one. The roles nest: admin
 * includes write, write includes read. A key may be limited to a list of
 * tables (read and write keys only).
 */
#ifndef VMDB_TRUST_APIKEYS_H
#define VMDB_TRUST_APIKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trust/identity.h"
#include "vmdb/common.h"

#define VMDB_APIKEY_ID_LEN 8
#define VMDB_APIKEY_SECRET_LEN 43
/* "vmdb_" id "_" secret */
#define VMDB_APIKEY_LEN (5 + VMDB_APIKEY_ID_LEN + 1 + VMDB_APIKEY_SECRET_LEN)
#define VMDB_APIKEY_MAX_TABLES 64
#define VMDB_APIKEY_MAX_TABLE_NAME 63
#define VMDB_APIKEY_MAX_NOTE 200
#define VMDB_APIKEYS_MAX 4096

typedef enum vmdb_role {
    VMDB_ROLE_NONE = 0,
    VMDB_ROLE_READ = 1,
    VMDB_ROLE_WRITE = 2,
    VMDB_ROLE_ADMIN = 3,
} vmdb_role;

typedef struct vmdb_apikey {
    char id[VMDB_APIKEY_ID_LEN + 1];
    vmdb_role role;
    char **tables; /* NULL: every table; else ntables names (lower case) */
    size_t ntables;
    uint8_t hash[32]; /* SHA-256 of the 32 secret bytes */
    uint64_t created_ms;
    char *note; /* may be NULL */
} vmdb_apikey;

typedef struct vmdb_apikeys {
    vmdb_apikey *v;
    size_t n;
} vmdb_apikeys;

/* "read", "write", "admin" ("none" for VMDB_ROLE_NONE). */
const char *vmdb_role_name(vmdb_role r);
/* The role named `s`; VMDB_ROLE_NONE when it is none of the three. */
vmdb_role vmdb_role_parse(const char *s);

/* Splits a key's text into its id (NUL-terminated) and the SHA-256 of its
 * secret bytes. 0, or VMDB_EINVAL when it is not of the key's form (length,
 * prefix, id alphabet, canonical base64url of exactly 32 bytes). */
int vmdb_apikey_parse(char id[VMDB_APIKEY_ID_LEN + 1], uint8_t hash[32], const char *text,
                      size_t len);

/* The key whose text is `text`, or NULL. The hashes are compared in
 * constant time (sodium_memcmp); an unknown id costs a comparison too. */
const vmdb_apikey *vmdb_apikeys_check(const vmdb_apikeys *set, const char *text, size_t len);

/* Whether `k` may touch `table` (lower case): unscoped keys every table. */
bool vmdb_apikey_allows_table(const vmdb_apikey *k, const char *table);

/* A table name as a key's scope holds it: 1 to 63 of [a-z0-9_] after
 * lower-casing, not starting with a digit. */
bool vmdb_apikey_table_valid(const char *name);

/* Adds a new key with a fresh random id and secret and writes its text
 * (NUL-terminated) to `text`. `tables` (ntables names, or NULL: every
 * table) are lower-cased. VMDB_EINVAL: admin with tables, a bad table
 * name, too many tables or keys, a note too long; VMDB_ENOMEM. */
int vmdb_apikeys_add(vmdb_apikeys *set, char text[VMDB_APIKEY_LEN + 1], vmdb_role role,
                     const char *const *tables, size_t ntables, const char *note,
                     uint64_t created_ms);

/* Removes the key `id`. 0 or VMDB_ENOTFOUND. */
int vmdb_apikeys_revoke(vmdb_apikeys *set, const char *id);

/* The file's text, signed with `id`. 0, VMDB_ENOMEM or VMDB_ECRYPTO. */
int vmdb_apikeys_format(vmdb_buf *out, const vmdb_apikeys *set, const vmdb_identity *id);

/* Reads a file's text into `out` (replacing nothing: `out` must be empty)
 * after checking its signature against `pk`. VMDB_EINVAL (malformed, with
 * a message in vmdb_error_last()), VMDB_EVERIFY (the signature does not
 * verify: edited, or signed by another key), VMDB_ENOMEM. */
int vmdb_apikeys_parse(vmdb_apikeys *out, vmdb_slice text, const uint8_t pk[32]);

/* vmdb_apikeys_parse of the file at `path` (VMDB_ENOTFOUND when absent,
 * VMDB_EIO when unreadable). */
int vmdb_apikeys_load(vmdb_apikeys *out, const char *path, const uint8_t pk[32]);

/* Writes the signed file atomically, mode 0600. */
int vmdb_apikeys_save(const char *path, const vmdb_apikeys *set, const vmdb_identity *id);

/* Frees the keys (accepts NULL) and leaves an empty set. */
void vmdb_apikeys_free(vmdb_apikeys *set);

#endif
