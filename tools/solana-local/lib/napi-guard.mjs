// Imported before litesvm. litesvm 1.5.0 was published with a native binary
// for linux-x64-gnu only; package.json pins the other platforms' optional
// binary packages to 1.4.1 so that the lock file is complete and `npm ci`
// works. Make napi-rs refuse such a mismatched binary instead of loading it.
process.env.NAPI_RS_ENFORCE_VERSION_CHECK ??= '1';
