/*
 * vmdb keys: create, list and revoke API keys (trust/apikeys.h). They live
 * in the signed keys file (VMDB_API_KEYS, default <data dir>/api_keys.json),
 * which only the identity key can sign, so these commands need it: the same
 * VMDB_DATA_DIR and VMDB_IDENTITY_KEY as vmdb serve (environment, then
 * ./.env). A new key's text is printed once, on stdout; only its hash is
 * kept. A running server sees the change within a second (or on SIGHUP).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "trust/apikeys.h"
#include "trust/identity.h"
#include "util/file.h"

static const char keys_help[] =
    "usage: vmdb keys create --role read|write|admin [--table T ...] [--note TEXT]\n"
    "       vmdb keys list\n"
    "       vmdb keys revoke ID\n"
    "\n"
    "API keys for the HTTP API (Authorization: Bearer <key>). Roles nest: admin\n"
    "(/bootstrap/*) includes write (create, upsert, delete), which includes read.\n"
    "--table limits a read or write key to the named tables (repeatable).\n"
    "create prints the key once on stdout; only its SHA-256 is stored.\n"
    "\n"
    "The keys file is signed with the identity key, like vmdb serve's state:\n"
    "  VMDB_API_KEYS      the keys file (default <data dir>/api_keys.json)\n"
    "  VMDB_DATA_DIR      data directory (default ./.vmdb)\n"
    "  VMDB_IDENTITY_KEY  identity key file (default <data dir>/identity.json, created\n"
    "                     when absent as vmdb serve would)\n";

static const char *env_or(const char *k, const char *def)
{
    const char *v = getenv(k);
    return v && *v ? v : def;
}

typedef struct keys_ctx {
    char *path;
    vmdb_identity id;
    vmdb_apikeys set;
} keys_ctx;

/* Loads the identity and the current keys (none when the file is absent). */
static int open_keys(keys_ctx *k, bool create_identity)
{
    const char *dir = env_or("VMDB_DATA_DIR", "./.vmdb");
    const char *idp = env_or("VMDB_IDENTITY_KEY", NULL);
    char *own = NULL;
    int rc = 0;
    if (create_identity && !idp && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "vmdb keys: cannot create %s: %s\n", dir, strerror(errno));
        return VMDB_EIO;
    }
    k->path = getenv("VMDB_API_KEYS") && *getenv("VMDB_API_KEYS")
                  ? strdup(getenv("VMDB_API_KEYS"))
                  : vmdb_file_path(dir, "api_keys.json");
    if (!idp)
        idp = own = vmdb_file_path(dir, "identity.json");
    if (!k->path || !idp) {
        free(own);
        return VMDB_ENOMEM;
    }
    rc = vmdb_identity_load(&k->id, idp, create_identity && !getenv("VMDB_IDENTITY_KEY"));
    free(own);
    if (rc != 0)
        return rc;
    rc = vmdb_apikeys_load(&k->set, k->path, k->id.pk);
    if (rc == VMDB_ENOTFOUND)
        return 0;
    if (rc != 0)
        fprintf(stderr, "vmdb keys: %s: %s\n", k->path, vmdb_error_last());
    return rc;
}

static void close_keys(keys_ctx *k)
{
    vmdb_apikeys_free(&k->set);
    vmdb_identity_clear(&k->id);
    free(k->path);
}

static int cmd_create(keys_ctx *k, int argc, char **argv)
{
    vmdb_role role = VMDB_ROLE_NONE;
    const char *note = NULL;
    const char **tables = calloc((size_t)argc + 1, sizeof *tables);
    size_t ntables = 0;
    char text[VMDB_APIKEY_LEN + 1];
    int rc = 2;
    if (!tables)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--role") == 0)
            role = vmdb_role_parse(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--table") == 0)
            tables[ntables++] = argv[++i];
        else if (i + 1 < argc && strcmp(a, "--note") == 0)
            note = argv[++i];
        else {
            fprintf(stderr, "vmdb keys create: unexpected '%s'\n%s", a, keys_help);
            goto done;
        }
    }
    if (role == VMDB_ROLE_NONE) {
        fprintf(stderr, "vmdb keys create: --role read, write or admin is required\n");
        goto done;
    }
    rc = 1;
    if (open_keys(k, true) != 0)
        goto done;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    int err = vmdb_apikeys_add(&k->set, text, role, ntables ? tables : NULL, ntables, note, now);
    if (err != 0) {
        fprintf(stderr, "vmdb keys create: %s\n", vmdb_error_last());
        rc = err == VMDB_EINVAL ? 2 : 1;
        goto done;
    }
    if (vmdb_apikeys_save(k->path, &k->set, &k->id) != 0) {
        fprintf(stderr, "vmdb keys create: cannot write %s\n", k->path);
        goto done;
    }
    fprintf(stderr, "vmdb keys: created %s key %s in %s (shown once; only its hash is kept)\n",
            vmdb_role_name(role), k->set.v[k->set.n - 1].id, k->path);
    printf("%s\n", text);
    rc = 0;
done:
    memset(text, 0, sizeof text);
    free(tables);
    return rc;
}

static int cmd_list(keys_ctx *k)
{
    if (open_keys(k, false) != 0)
        return 1;
    for (size_t i = 0; i < k->set.n; i++) {
        const vmdb_apikey *a = &k->set.v[i];
        char when[32] = "";
        time_t t = (time_t)(a->created_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s\t%s\t", a->id, vmdb_role_name(a->role));
        if (!a->tables)
            fputs("*", stdout);
        for (size_t j = 0; a->tables && j < a->ntables; j++)
            printf("%s%s", j ? "," : "", a->tables[j]);
        printf("\t%s\t%s\n", when, a->note ? a->note : "");
    }
    return 0;
}

static int cmd_revoke(keys_ctx *k, const char *id)
{
    if (open_keys(k, false) != 0)
        return 1;
    if (vmdb_apikeys_revoke(&k->set, id) != 0) {
        fprintf(stderr, "vmdb keys revoke: %s\n", vmdb_error_last());
        return 1;
    }
    if (vmdb_apikeys_save(k->path, &k->set, &k->id) != 0) {
        fprintf(stderr, "vmdb keys revoke: cannot write %s\n", k->path);
        return 1;
    }
    fprintf(stderr, "vmdb keys: revoked %s (%zu key%s left)\n", id, k->set.n,
            k->set.n == 1 ? "" : "s");
    return 0;
}

int vmdb_cli_keys(int argc, char **argv)
{
    keys_ctx k;
    int rc = 2;
    memset(&k, 0, sizeof k);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(keys_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    vmdb_cli_dotenv();
    if (!strcmp(argv[1], "create"))
        rc = cmd_create(&k, argc - 1, argv + 1);
    else if (!strcmp(argv[1], "list") && argc == 2)
        rc = cmd_list(&k);
    else if (!strcmp(argv[1], "revoke") && argc == 3)
        rc = cmd_revoke(&k, argv[2]);
    else
        fprintf(stderr, "vmdb keys: unknown command or arguments\n%s", keys_help);
    close_keys(&k);
    return rc;
}
