/*
 * vmdb serve: configuration (environment, then a .env file in the working
 * directory for what the environment lacks), the engine, the HTTP server,
 * a clean stop on SIGINT or SIGTERM, and on SIGHUP a reload of the HTTPS
 * certificate and key files. Signals are blocked in every thread
 * and taken synchronously by the main thread, so no handler runs at an
 * awkward moment.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "db/pg.h"
#include "server/auth.h"
#include "server/server.h"
#include "server/tls.h"
#include "store/engine.h"
#include "trust/identity.h"
#include "util/file.h"
#include "util/log.h"
#include "vmdb/note.h"

static const char serve_help[] =
    "usage: vmdb serve [--verify-rows] [--help]\n"
    "\n"
    "  --verify-rows         at start, hash every row and check it against the tree\n"
    "                        (default: a random sample of 64 rows per table)\n"
    "\n"
    "Serves the vmdb HTTP API. Configuration comes from the environment, then\n"
    "from a .env file in the working directory (KEY=VALUE lines; the environment wins).\n"
    "\n"
    "  DATABASE_URL          PostgreSQL URL or conninfo (required)\n"
    "  VMDB_LISTEN           address to listen on (default 127.0.0.1:3000)\n"
    "  VMDB_DATA_DIR         data directory (default ./.vmdb, created 0700)\n"
    "  BATCH_COMMIT_SIZE     every N-th state header is anchored before its write is\n"
    "                        answered (meta.committed); default 10, 0 means 1\n"
    "  ALLOW_MULTI_INSTANCE  'true' skips the single-instance advisory lock (not recommended)\n"
    "  CLEAR_DB              accepted and ignored (the seed deleted its trusted state\n"
    "                        file; vmdb's is signed and never discarded)\n"
    "  SOLANA_PROGRAM_ID     accepted and ignored: vmdb needs no on-chain program\n"
    "  VMDB_MIGRATIONS_DIR   .sql files for POST /bootstrap/migrate (default ./migrations)\n"
    "  VMDB_SWAGGER_DIR      swagger-ui-dist assets (default <binary dir>/../node_modules/\n"
    "                        swagger-ui-dist)\n"
    "  VMDB_IDENTITY_KEY     identity key file (Solana keypair JSON, mode 0600) provisioned\n"
    "                        by a TEE's sealing step; default <data dir>/identity.json,\n"
    "                        created at first start\n"
    "  VMDB_ANCHOR           anchor backend: local (default; <data dir>/anchors2.bin) or\n"
    "                        solana (SPL Memo transactions signed by the identity key)\n"
    "  SOLANA_RPC_URL        JSON-RPC endpoint for VMDB_ANCHOR=solana (devnet, mainnet,\n"
    "                        or tools/solana-local); several, comma-separated: the\n"
    "                        newest anchor is the newest any of them shows\n"
    "  SOLANA_KEYPAIR_PATH   optional separate fee payer (Solana CLI keypair JSON); by\n"
    "                        default the identity pays its own anchors\n"
    "  VMDB_SOLANA_COMMITMENT processed | confirmed (default) | finalized\n"
    "  VMDB_ANCHOR_INTERVAL  seconds between anchors of a pending backlog (default 30)\n"
    "  VMDB_HTTP_THREADS     I/O threads that read requests and send answers (default 2)\n"
    "  VMDB_HTTP_WORKERS     threads that run requests against the database (default\n"
    "                        16); a write waiting for its group commit holds none\n"
    "  VMDB_HTTP_PER_IP_CONNECTIONS  open connections per client address, more are\n"
    "                        refused; 0 = no cap (default 64)\n"
    "  VMDB_HTTP_HEADER_TIMEOUT_S    seconds for the request line and headers, counted\n"
    "                        from the connection's start (or its previous answer) and not\n"
    "                        extended by slow senders; a body gets this plus 1 s per 16 KiB\n"
    "                        (default 10)\n"
    "  VMDB_PG_POOL          PostgreSQL connections for reads (default 8)\n"
    "  VMDB_COMMIT_DELAY_US  microseconds a write group waits for the clients of the\n"
    "                        group before it to send their next write (default 1000;\n"
    "                        0: none); ends as soon as they have\n"
    "  VMDB_READ_INFLIGHT    read-batch statements running at once; concurrent small\n"
    "                        read-batches beyond that share one statement (default 1)\n"
    "  VMDB_PG_CONNECT_TIMEOUT_S     PostgreSQL connect timeout in s (default 5)\n"
    "  VMDB_PG_STATEMENT_TIMEOUT_MS  statement_timeout in ms, 0 = none (default 30000;\n"
    "                        admin operations have their own, below)\n"
    "  VMDB_PG_ADMIN_TIMEOUT_S       statement_timeout in s of admin operations (start-up,\n"
    "                        migrate, repair-roots, clear-data, schema resets), 0 = none\n"
    "                        (default 3600)\n"
    "  VMDB_PG_LOCK_TIMEOUT_MS       lock_timeout in ms, 0 = none (default 10000)\n"
    "  VMDB_MAX_GROUP        most write requests in one transaction (default 64)\n"
    "  VMDB_CHECKPOINT_ORIGIN origin (and key name) of GET /checkpoint's signed note\n"
    "                        (default vmdb/<identity address>); printable ASCII without\n"
    "                        spaces or '+'\n"
    "  VMDB_TLS_CERT         PEM certificate chain (leaf first): serve HTTPS instead of\n"
    "                        HTTP; needs VMDB_TLS_KEY. SIGHUP re-reads both files\n"
    "  VMDB_TLS_KEY          PEM private key (unencrypted) of VMDB_TLS_CERT\n"
    "  VMDB_TLS_MIN_VERSION  lowest TLS version accepted: 1.2 (default) or 1.3\n"
    "  VMDB_API_KEYS         API keys file (made by `vmdb keys`, signed by the identity key)\n"
    "                        provisioned from outside; default <data dir>/api_keys.json.\n"
    "                        When the file exists, every route but /health, /metrics and\n"
    "                        the API docs needs Authorization: Bearer <key>; it is read\n"
    "                        again on SIGHUP and when it changes\n"
    "  VMDB_INSECURE_NO_AUTH 'true' serves a non-loopback VMDB_LISTEN without API keys\n"
    "                        (otherwise refused)\n"
    "  VMDB_AUTH_HEALTH      'true': GET /health needs a key with the read role\n"
    "  VMDB_AUTH_METRICS     'true': GET /metrics needs a key with the read role\n"
    "  VMDB_LOG_FORMAT       text (default) or json: one JSON object per line on stderr\n"
    "                        (ts, level, msg, request_id while answering a request)\n";

/* Reads KEY=VALUE lines; sets those the environment does not have. */
static void load_dotenv(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == 0)
            continue;
        if (strncmp(p, "export ", 7) == 0)
            p += 7;
        char *eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = 0;
        char *k = p, *v = eq + 1;
        size_t kl = strlen(k);
        while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
            k[--kl] = 0;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == '\n' || v[vl - 1] == '\r' || v[vl - 1] == ' '))
            v[--vl] = 0;
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
            v[vl - 1] = 0;
            v++;
        }
        if (kl)
            setenv(k, v, 0);
    }
    fclose(f);
}

static const char *env_or(const char *k, const char *def)
{
    const char *v = getenv(k);
    return v && *v ? v : def;
}

static int env_uint(const char *k, unsigned long long def, unsigned long long max,
                    unsigned long long *out)
{
    const char *v = getenv(k);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-' || x > max) {
        LOG_ERROR("%s must be an unsigned integer (got '%s')", k, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* An optional 'true' / 'false' setting; anything else is refused. */
static int env_bool(const char *k, bool *out)
{
    const char *v = getenv(k);
    *out = v && strcmp(v, "true") == 0;
    if (v && *v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
        LOG_ERROR("%s must be 'true' or 'false' (got '%s')", k, v);
        return -1;
    }
    return 0;
}

void vmdb_cli_dotenv(void)
{
    load_dotenv(".env");
}

static char *default_swagger_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return strdup("node_modules/swagger-ui-dist");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    size_t len = strlen(exe) + sizeof "/../node_modules/swagger-ui-dist";
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/../node_modules/swagger-ui-dist", exe);
    return out;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* glibc's allocator gives memory back eagerly: a thread arena whose free
 * top passes the (dynamic) trim threshold is shrunk with madvise, and every
 * such call is a TLB shootdown across CPUs; under load that was about 12%
 * of all samples (issue 14's profile). The serving process keeps what it
 * freed instead: trimming above 64 MiB only, and a fixed mmap threshold
 * above the largest request body so that bodies and answers come from the
 * heap. Process-wide, set once before any thread starts. */
static void tune_malloc(void)
{
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
}

int vmdb_cli_serve(int argc, char **argv)
{
    int rc = 1;
    vmdb_engine *e = NULL;
    vmdb_http *h = NULL;
    vmdb_tls *tls = NULL;
    vmdb_auth *auth = NULL;
    char *swagger = NULL, *keys_path = NULL;
    bool verify_rows = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(serve_help, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--verify-rows")) {
            verify_rows = true;
            continue;
        }
        fprintf(stderr, "vmdb serve: unknown option '%s'\n%s", argv[i], serve_help);
        return 2;
    }
    tune_malloc();
    load_dotenv(".env");
    /* First, so that every later line has the chosen form. */
    const char *log_format = env_or("VMDB_LOG_FORMAT", "text");
    if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) {
        LOG_ERROR("VMDB_LOG_FORMAT must be 'text' or 'json' (got '%s')", log_format);
        return 2;
    }
    vmdb_log_set_json(strcmp(log_format, "json") == 0);
    const char *url = getenv("DATABASE_URL");
    if (!url || !*url) {
        LOG_ERROR("DATABASE_URL is not set (see vmdb serve --help)");
        return 2;
    }
    unsigned long long per_ip, header_s, workers, inflight, cdelay;
    unsigned long long bcs, threads, pool, group, interval, pg_connect_s, pg_stmt_ms, pg_lock_ms,
        pg_admin_s;
    if (env_uint("BATCH_COMMIT_SIZE", 10, UINT64_MAX, &bcs) ||
        env_uint("VMDB_HTTP_THREADS", 2, 64, &threads) ||
        env_uint("VMDB_HTTP_WORKERS", 16, 1024, &workers) ||
        env_uint("VMDB_HTTP_PER_IP_CONNECTIONS", 64, 1024, &per_ip) ||
        env_uint("VMDB_HTTP_HEADER_TIMEOUT_S", 10, 3600, &header_s) ||
        env_uint("VMDB_PG_POOL", 8, 256, &pool) ||
        env_uint("VMDB_READ_INFLIGHT", 1, 256, &inflight) ||
        env_uint("VMDB_COMMIT_DELAY_US", 1000, 100000, &cdelay) ||
        env_uint("VMDB_MAX_GROUP", 64, 65536, &group) ||
        env_uint("VMDB_ANCHOR_INTERVAL", 30, 86400, &interval) ||
        env_uint("VMDB_PG_CONNECT_TIMEOUT_S", 5, 3600, &pg_connect_s) ||
        env_uint("VMDB_PG_STATEMENT_TIMEOUT_MS", 30000, 86400000, &pg_stmt_ms) ||
        env_uint("VMDB_PG_LOCK_TIMEOUT_MS", 10000, 86400000, &pg_lock_ms) ||
        env_uint("VMDB_PG_ADMIN_TIMEOUT_S", 3600, 604800, &pg_admin_s))
        return 2;
    if (header_s == 0) {
        LOG_ERROR("VMDB_HTTP_HEADER_TIMEOUT_S must be 1-3600 seconds (got 0)");
        return 2;
    }
    /* Before the first connection: every one gets them. */
    vmdb_pg_set_timeouts((unsigned)(pg_connect_s ? pg_connect_s : 1), (unsigned)pg_stmt_ms,
                         (unsigned)pg_lock_ms);
    vmdb_pg_set_admin_timeout((unsigned)pg_admin_s);
    const char *anchor = env_or("VMDB_ANCHOR", "local");
    const char *commitment = env_or("VMDB_SOLANA_COMMITMENT", "confirmed");
    int commit_level = !strcmp(commitment, "confirmed")   ? 0
                       : !strcmp(commitment, "processed") ? 1
                       : !strcmp(commitment, "finalized") ? 2
                                                          : -1;
    if (strcmp(anchor, "local") != 0 && strcmp(anchor, "solana") != 0) {
        LOG_ERROR("VMDB_ANCHOR must be 'local' or 'solana' (got '%s')", anchor);
        return 2;
    }
    if (commit_level < 0) {
        LOG_ERROR("VMDB_SOLANA_COMMITMENT must be processed, confirmed or finalized");
        return 2;
    }
    bool solana = strcmp(anchor, "solana") == 0;
    if (solana && !(getenv("SOLANA_RPC_URL") && *getenv("SOLANA_RPC_URL"))) {
        LOG_ERROR("VMDB_ANCHOR=solana needs SOLANA_RPC_URL");
        return 2;
    }
    const char *origin = getenv("VMDB_CHECKPOINT_ORIGIN");
    if (origin && !vmdb_note_name_valid(VMDB_SLICE(origin, strlen(origin)))) {
        LOG_ERROR("VMDB_CHECKPOINT_ORIGIN must be 1 to %d bytes of printable ASCII without spaces "
                  "or '+' (got '%s')",
                  VMDB_NOTE_MAX_NAME, origin);
        return 2;
    }
    const char *tls_cert = env_or("VMDB_TLS_CERT", NULL), *tls_key = env_or("VMDB_TLS_KEY", NULL);
    const char *tls_min_s = env_or("VMDB_TLS_MIN_VERSION", "1.2");
    if (!tls_cert != !tls_key) {
        LOG_ERROR("VMDB_TLS_CERT and VMDB_TLS_KEY go together: set both for HTTPS, or neither");
        return 2;
    }
    if (strcmp(tls_min_s, "1.2") != 0 && strcmp(tls_min_s, "1.3") != 0) {
        LOG_ERROR("VMDB_TLS_MIN_VERSION must be 1.2 or 1.3 (got '%s')", tls_min_s);
        return 2;
    }
    /* Checked before the engine opens, so a bad certificate costs nothing. */
    if (tls_cert) {
        char why[512] = "";
        if (vmdb_tls_open(&tls, tls_cert, tls_key, why, sizeof why) != 0) {
            LOG_ERROR("cannot serve HTTPS: %s", why);
            return 2;
        }
        char fp[96];
        vmdb_tls_fingerprint(tls, fp, sizeof fp);
        LOG_INFO("TLS certificate %s (SHA-256 %s)", tls_cert, fp);
    }
    if (!getenv("BATCH_COMMIT_SIZE"))
        LOG_INFO("BATCH_COMMIT_SIZE not set: using 10");
    const char *data_dir = env_or("VMDB_DATA_DIR", "./.vmdb");
    if (mkdir_p(data_dir) != 0) {
        LOG_ERROR("cannot create data directory %s: %s", data_dir, strerror(errno));
        vmdb_tls_free(tls);
        return 2;
    }
    if (!strcmp(env_or("CLEAR_DB", ""), "true"))
        LOG_INFO("CLEAR_DB=true: accepted and ignored; vmdb never deletes its signed trusted state "
                 "(clear data with POST /bootstrap/clear-data)");
    if (getenv("SOLANA_PROGRAM_ID") && *getenv("SOLANA_PROGRAM_ID"))
        LOG_INFO("SOLANA_PROGRAM_ID is ignored: vmdb anchors with memos signed by its own key and "
                 "needs no on-chain program");
    if (getenv("SOLANA_RPC_URL") && *getenv("SOLANA_RPC_URL") && !solana)
        LOG_INFO("SOLANA_RPC_URL is set but VMDB_ANCHOR is local: set VMDB_ANCHOR=solana to anchor "
                 "on Solana");
    /* API keys: enforced when their file exists; a server reachable from
     * other machines without them is refused unless that is the intent. */
    const char *listen = env_or("VMDB_LISTEN", "127.0.0.1:3000");
    bool insecure = false, auth_health = false, auth_metrics = false;
    if (env_bool("VMDB_INSECURE_NO_AUTH", &insecure) ||
        env_bool("VMDB_AUTH_HEALTH", &auth_health) || env_bool("VMDB_AUTH_METRICS", &auth_metrics))
        return 2;
    const char *keys_env = env_or("VMDB_API_KEYS", NULL);
    struct stat kst;
    keys_path = keys_env ? strdup(keys_env) : vmdb_file_path(data_dir, "api_keys.json");
    if (!keys_path)
        return 1;
    bool keys_on = stat(keys_path, &kst) == 0;
    if (keys_env && !keys_on) {
        LOG_ERROR("VMDB_API_KEYS names %s, which does not exist", keys_path);
        free(keys_path);
        return 2;
    }
    if (!keys_on && !vmdb_auth_listen_is_loopback(listen)) {
        if (!insecure) {
            LOG_ERROR("VMDB_LISTEN %s is reachable from other machines and there are no API keys "
                      "(%s): create one with `vmdb keys create --role admin`, or set "
                      "VMDB_INSECURE_NO_AUTH=true to serve without authentication on purpose",
                      listen, keys_path);
            free(keys_path);
            return 2;
        }
        LOG_WARN("VMDB_INSECURE_NO_AUTH=true: serving %s without API keys; anyone who reaches it "
                 "can clear, reset and repair the database",
                 listen);
    }
    swagger =
        getenv("VMDB_SWAGGER_DIR") ? strdup(getenv("VMDB_SWAGGER_DIR")) : default_swagger_dir();

    /* Every thread inherits this mask; the main thread waits for the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    vmdb_engine_config ec = {
        .database_url = url,
        .batch_commit_size = bcs ? bcs : 1,
        .allow_multi_instance = !strcmp(env_or("ALLOW_MULTI_INSTANCE", ""), "true"),
        .read_pool = (unsigned)(pool ? pool : 1),
        .read_inflight = (unsigned)(inflight ? inflight : 1),
        .max_group = (unsigned)(group ? group : 1),
        .commit_delay_us = (unsigned)cdelay,
        .migrations_dir = env_or("VMDB_MIGRATIONS_DIR", "migrations"),
        .data_dir = data_dir,
        .identity_path = getenv("VMDB_IDENTITY_KEY") && *getenv("VMDB_IDENTITY_KEY")
                             ? getenv("VMDB_IDENTITY_KEY")
                             : NULL,
        .anchor_interval_s = (unsigned)(interval ? interval : 1),
        .anchor = solana ? VMDB_ANCHOR_SOLANA : VMDB_ANCHOR_LOCAL,
        .solana_rpc_url = getenv("SOLANA_RPC_URL"),
        .solana_fee_payer = getenv("SOLANA_KEYPAIR_PATH"),
        .solana_commitment = commit_level,
        .verify_rows = verify_rows,
        .checkpoint_origin = origin,
    };
    int err = vmdb_engine_open(&e, &ec);
    if (err) {
        LOG_ERROR("cannot start: %s", vmdb_error_name(err));
        goto done;
    }
    if (keys_on) {
        vmdb_identity_info idi;
        vmdb_auth_config ac = {
            .path = keys_path, .protect_health = auth_health, .protect_metrics = auth_metrics};
        vmdb_engine_identity(e, &idi);
        if (vmdb_hex_decode(ac.pk, 32, idi.public_key, strlen(idi.public_key)) != 0 ||
            vmdb_auth_open(&auth, &ac) != 0) {
            LOG_ERROR("cannot start: the API keys file %s is not one the identity key signed "
                      "(edited by hand, or made for another identity); recreate it with "
                      "`vmdb keys`",
                      keys_path);
            goto done;
        }
    }
    vmdb_http_config hc = {
        .listen = listen,
        .threads = (unsigned)(threads ? threads : 1),
        .workers = (unsigned)(workers ? workers : 1),
        .per_ip_connections = (unsigned)per_ip,
        .header_timeout_s = (unsigned)header_s,
        .swagger_dir = swagger,
        .auth = auth,
        .tls = tls,
        .tls_min = strcmp(tls_min_s, "1.3") == 0 ? VMDB_TLS_MIN_13 : VMDB_TLS_MIN_12,
    };
    if (vmdb_http_start(&h, &hc, e) != 0)
        goto done;
    LOG_INFO("vmdb: listening on %s://%s (Swagger UI at /swagger-ui)", tls ? "https" : "http",
             listen);
    fflush(stderr);
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
        /* A bad pair on reload keeps the current one: the server stays up. */
        char why[512] = "", fp[96] = "";
        if (!tls)
            LOG_INFO("vmdb: SIGHUP received; no TLS certificate to reload");
        else if (vmdb_tls_reload(tls, why, sizeof why) != 0)
            LOG_ERROR("vmdb: SIGHUP: TLS reload failed, keeping the current certificate: %s", why);
        else {
            vmdb_tls_fingerprint(tls, fp, sizeof fp);
            LOG_INFO("vmdb: SIGHUP: TLS certificate reloaded (SHA-256 %s)", fp);
        }
        fflush(stderr);
        LOG_INFO("vmdb: SIGHUP received, reading the API keys again");
        vmdb_auth_reload(auth);
    }
    LOG_INFO("vmdb: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
done:
    vmdb_http_stop(h);
    vmdb_tls_free(tls);
    vmdb_engine_close(e);
    vmdb_auth_free(auth);
    free(keys_path);
    free(swagger);
    if (rc == 0)
        LOG_INFO("vmdb: stopped");
    return rc;
}

int vmdb_cli_keygen(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fputs("usage: vmdb keygen <path>\n"
              "Writes a new identity key (Solana keypair JSON, mode 0600) to <path>, which must\n"
              "not exist, and prints its public key and Solana address.\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    vmdb_identity id;
    if (vmdb_identity_generate(argv[1], &id) != 0)
        return 1;
    printf("public_key %s\naddress %s\n", id.pk_hex, id.address);
    vmdb_identity_clear(&id);
    return 0;
}
