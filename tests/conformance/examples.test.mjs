// What a newcomer runs (issue 12 items 4 and 5), run as written against a
// real `vmdb serve`: the steps of docs/CLIENTS.md "From a fresh clone to a
// verified read" (the shell block, then the JavaScript and the Python
// snippet, taken out of the document itself, with only the address
// changed), and both examples of examples/agent-memory/, each storing and
// recalling memories and then seeing a memory edited with psql refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startServer, get, ok, tempDir } from '../integration/lib.mjs';

const PYTHON = process.env.CONFORM_PYTHON || '/usr/bin/python3';
const DOC_URL = 'http://127.0.0.1:3000';

/** The fenced blocks of `lang` in the section `title` of docs/CLIENTS.md. */
function docBlocks(title, lang) {
  const md = fs.readFileSync(path.join(ROOT, 'docs/CLIENTS.md'), 'utf8');
  const at = md.indexOf(`## ${title}`);
  assert.ok(at >= 0, `docs/CLIENTS.md has a section "${title}"`);
  const end = md.indexOf('\n## ', at + 4);
  const section = md.slice(at, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((x) => x[1]);
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, ...opts });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${out}`);
  return r.stdout;
}

test('docs/CLIENTS.md: from a fresh clone to a verified read, in both languages, as written', async () => {
  const srv = await startServer();
  try {
    const dir = tempDir('vmdb-clientsmd-');
    const host = new URL(srv.url).host;
    const [sh] = docBlocks('From a fresh clone to a verified read', 'sh');
    const [js] = docBlocks('From a fresh clone to a verified read', 'js');
    const [py] = docBlocks('From a fresh clone to a verified read', 'python');
    assert.ok(sh && js && py, 'a sh, a js and a python block');
    // The shell steps, in the clone's directory; the exported key printed.
    const key = run('bash', ['-euo', 'pipefail', '-c', `${sh.replaceAll('localhost:3000', host)}\nprintf "\\n%s" "$VMDB_PUBLIC_KEY"`], { cwd: ROOT })
      .trim().split('\n').pop();
    assert.equal(key, ok(await get(srv.url, '/api/identity')).public_key, 'the exported VMDB_PUBLIC_KEY');
    const env = { ...process.env, VMDB_PUBLIC_KEY: key };
    // hello.mjs "in the clone": its relative import made absolute, and the
    // state file in the test's directory.
    fs.writeFileSync(path.join(dir, 'hello.mjs'), js.replaceAll(DOC_URL, srv.url)
      .replace("'./clients/js/src/index.mjs'", `'${path.join(ROOT, 'clients/js/src/index.mjs')}'`));
    const jsOut = run(process.execPath, ['hello.mjs'], { cwd: dir, env });
    assert.match(jsOut, /^true \d+ /, jsOut);
    assert.match(jsOut, /the user prefers tea/);
    fs.writeFileSync(path.join(dir, 'hello.py'), py.replaceAll(DOC_URL, srv.url));
    const pyOut = run(PYTHON, ['hello.py'], { cwd: dir, env: { ...env, PYTHONPATH: path.join(ROOT, 'clients/python') } });
    assert.match(pyOut, /^True \d+ /, pyOut);
    assert.equal((pyOut.match(/the user prefers tea/g) || []).length, 2, 'both memories, the JS one and the Python one');
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'vmdb-state.json'), 'utf8'));
    assert.equal(state.public_key, key, 'one state file shared by both snippets');
  } finally {
    await srv.stop();
  }
});

for (const [lang, cmd, script] of [
  ['js', process.execPath, 'examples/agent-memory/js/agent.mjs'],
  ['python', PYTHON, 'examples/agent-memory/python/agent.py'],
]) {
  test(`examples/agent-memory/${lang}: memories stored and recalled complete, a memory edited with psql refused`, async () => {
    const srv = await startServer();
    try {
      const dir = tempDir(`vmdb-example-${lang}-`);
      const pk = ok(await get(srv.url, '/api/identity')).public_key;
      const state = path.join(dir, 'state.json');
      const out = run(cmd, [path.join(ROOT, script), srv.url, pk, '--state', state],
        { cwd: dir, env: { ...process.env, DATABASE_URL: srv.db } });
      assert.match(out, /latest 3 memories.*complete[:=] ?(true|True)/i, out);
      assert.match(out, /refused by the server: 400 INTEGRITY_VIOLATION/, out);
      assert.doesNotMatch(out, /UNEXPECTED/, out);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).public_key, pk, 'the state file kept');
    } finally {
      await srv.stop();
    }
  });
}
