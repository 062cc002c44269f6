/**
 * 端到端测试用的真实环境：假微信、假钉钉（仓库自带的命令行），`tongxin init-db`、
 * `tongxin import-org`，然后 `tongxin serve`（SQLite，临时目录）。全部在临时目录里，结束时
 * 按进程组结束所有子进程并删掉临时目录。
 */
const childProcess = require('child_process')
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')
const http = require('http')

const REPO = path.resolve(__dirname, '../../..')

/**
 * 假平台的模块名：优先新位置（bridges/fakes/…），还没迁过去时用旧位置。只在这里写一次。
 */
const FAKE_MODULES = {
  wechat: ['bridges.fakes.wechat', 'bridges.wechat.fake_server'],
  dingtalk: ['bridges.fakes.dingtalk', 'bridges.dingtalk.fake_server'],
}

const APPID = 'wxe2etest00000001'
const WECHAT_SECRET = 'e2e-wechat-app-secret'
const DT_APP_KEY = 'e2e-dingtalk-app-key'
const DT_APP_SECRET = 'e2e-dingtalk-app-secret-value'
const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdefghij'
const TEMPLATES = {
  reportStatus: 'tmpl-report-status',
  notice: 'tmpl-notice',
  campaign: 'tmpl-campaign',
}
/** 网格中心（WGS-84）：居民“站在这里”拍照、签到。 */
const HERE = { lat: 43.345, lng: 125.305 }
const FAR = { lat: 43.2, lng: 125.1 }

/** 官员（钉钉 userId）：永盛街道第一网格 A 岗。 */
const OFFICIAL = { staffId: 'e2e-ys-a', name: '王网格', township: 'yongsheng', conversationId: 'cid-yongsheng' }

/** @param {string} mod */
function moduleExists(mod) {
  return fs.existsSync(path.join(REPO, ...mod.split('.')) + '.py')
}

/** @param {'wechat'|'dingtalk'} which */
function fakeModule(which) {
  const found = FAKE_MODULES[which].find(moduleExists)
  if (!found) throw new Error('fake ' + which + ' server not found in ' + FAKE_MODULES[which].join(' or '))
  return found
}

function binaries() {
  const tongxin = process.env.TONGXIN_BIN || path.join(REPO, '.venv/bin/tongxin')
  const python = process.env.TONGXIN_PYTHON || path.join(path.dirname(tongxin), 'python')
  for (const p of [tongxin, python]) {
    if (!fs.existsSync(p)) throw new Error(p + ' not found: run `make test` once (it creates .venv), or set TONGXIN_BIN')
  }
  return { tongxin, python }
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = /** @type {net.AddressInfo} */ (srv.address())
      srv.close(() => resolve(addr.port))
    })
  })
}

/** @param {string} url @returns {Promise<number>} HTTP status, 0 when nothing answers */
function probe(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume()
      resolve(res.statusCode || 0)
    })
    req.on('error', () => resolve(0))
    req.setTimeout(1000, () => {
      req.destroy()
      resolve(0)
    })
  })
}

/**
 * @param {string} toml
 * @param {{ dir: string, api: number, wechat: number, dingtalk: number }} p
 */
function configToml(p) {
  const dt = `http://127.0.0.1:${p.dingtalk}`
  const unit = (/** @type {string} */ code, /** @type {string} */ name, /** @type {string} */ kind) => `
[[townships]]
code = "${code}"
name = "${name}"
kind = "${kind}"
  [townships.dingtalk]
  webhook = "${dt}/robot/send?access_token=tok-${code}"
  secret = "SEC-e2e-${code}"
  conversation_id = "cid-${code}"
`
  return `# written by miniprogram/tests/e2e/stack.js
[server]
secret_key = "e2e-secret-key-0123456789abcdef"
public_base_url = "http://127.0.0.1:${p.api}"

[database]
url = "sqlite:///${path.join(p.dir, 'tongxin.db')}"

[reports]
daily_limit_per_resident = 20

[uploads]
dir = "${path.join(p.dir, 'uploads')}"

[wechat]
appid = "${APPID}"
secret = "${WECHAT_SECRET}"
api_base_url = "http://127.0.0.1:${p.wechat}"
push_token = "e2e-push-token"
content_check_timeout_seconds = 3.0
request_timeout_seconds = 3.0

[wechat.templates]
report_status = "${TEMPLATES.reportStatus}"
notice = "${TEMPLATES.notice}"
campaign = "${TEMPLATES.campaign}"

[dingtalk]
api_base_url = "${dt}"
app_key = "${DT_APP_KEY}"
app_secret = "${DT_APP_SECRET}"

[worker]
poll_seconds = 0.2
first_retry_seconds = 1

[admin]
api_token = "${ADMIN_TOKEN}"
${unit('yongsheng', '永盛街道', 'street')}${unit('yongning', '永宁街道', 'street')}`
}

function rosterCsv() {
  // 网格边界（WKT，经度在前）：以 HERE / FAR 为中心、约 2 公里见方。契约里的 lat/lng 列（网格中心）
  // 当前实现还不接受，所以用 boundary 列。
  const box = (/** @type {{ lat: number, lng: number }} */ c) => {
    const d = 0.01
    const pts = [[c.lng - d, c.lat - d], [c.lng + d, c.lat - d], [c.lng + d, c.lat + d], [c.lng - d, c.lat + d], [c.lng - d, c.lat - d]]
    return '"POLYGON ((' + pts.map((p) => p[0].toFixed(6) + ' ' + p[1].toFixed(6)).join(', ') + '))"'
  }
  return [
    'township,community,grid,official_name,role,duty_post,dingtalk_user_id,mobile,boundary',
    `yongsheng,人民社区,第一网格,${OFFICIAL.name},grid_leader,A,${OFFICIAL.staffId},13900000101,${box(HERE)}`,
    `yongsheng,人民社区,第一网格,李备岗,grid_worker,B,e2e-ys-b,13900000102,${box(HERE)}`,
    `yongning,永宁社区,永宁一网格,赵永宁,grid_leader,A,e2e-yn-a,13900000103,${box(FAR)}`,
    '',
  ].join('\n')
}

/**
 * @param {string} cmd @param {string[]} args @param {NodeJS.ProcessEnv} env @param {string} log
 * @returns {Promise<void>}
 */
function run(cmd, args, env, log) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(log, 'a')
    const p = childProcess.spawn(cmd, args, { env, cwd: REPO, stdio: ['ignore', out, out] })
    p.on('error', reject)
    p.on('exit', (code) => {
      fs.closeSync(out)
      if (code === 0) resolve()
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}:\n${tail(log)}`))
    })
  })
}

/** @param {string} file */
function tail(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-30).join('\n')
  } catch (e) {
    return ''
  }
}

class Stack {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongxin-e2e-'))
    /** @type {Array<{ name: string, proc: childProcess.ChildProcess, log: string }>} */
    this.procs = []
    this.bins = binaries()
    this.env = Object.assign({}, process.env, { TONGXIN_CONFIG: path.join(this.dir, 'config.toml'), PYTHONUNBUFFERED: '1' })
    this.ports = { api: 0, wechat: 0, dingtalk: 0 }
  }

  /** @param {string} name @param {string} cmd @param {string[]} args */
  spawn(name, cmd, args) {
    const log = path.join(this.dir, name + '.log')
    const out = fs.openSync(log, 'a')
    // 独立进程组：结束时连同它的子进程一起结束
    const proc = childProcess.spawn(cmd, args, { env: this.env, cwd: REPO, stdio: ['ignore', out, out], detached: true })
    fs.closeSync(out)
    this.procs.push({ name, proc, log })
    return proc
  }

  /** @param {string} name @param {string} url @param {number} [timeoutMs] */
  async waitFor(name, url, timeoutMs = 30000) {
    const until = Date.now() + timeoutMs
    const entry = this.procs.find((p) => p.name === name)
    while (Date.now() < until) {
      if (entry && entry.proc.exitCode !== null) throw new Error(`${name} exited ${entry.proc.exitCode}:\n${tail(entry.log)}`)
      const status = await probe(url)
      if (status >= 200 && status < 500) return
      await new Promise((r) => setTimeout(r, 150))
    }
    throw new Error(`${name} did not answer ${url} in ${timeoutMs} ms:\n${entry ? tail(entry.log) : ''}`)
  }

  async start() {
    const [api, wechat, dingtalk] = [await freePort(), await freePort(), await freePort()]
    this.ports = { api, wechat, dingtalk }
    const cfg = path.join(this.dir, 'config.toml')
    const roster = path.join(this.dir, 'roster.csv')
    fs.writeFileSync(cfg, configToml({ dir: this.dir, api, wechat, dingtalk }))
    fs.writeFileSync(roster, rosterCsv())
    const { python, tongxin } = this.bins
    const fields = 'character_string1:character_string,phrase2:phrase,thing3:thing,time4:time'
    this.spawn('fake-wechat', python, ['-m', fakeModule('wechat'), '--host', '127.0.0.1', '--port', String(wechat),
      '--appid', APPID, '--secret', WECHAT_SECRET,
      '--template', `${TEMPLATES.reportStatus}=${fields}`,
      '--template', `${TEMPLATES.notice}=thing1:thing,thing2:thing,time3:time`,
      '--template', `${TEMPLATES.campaign}=thing1:thing,time2:time,thing3:thing,thing4:thing`])
    this.spawn('fake-dingtalk', python, ['-m', fakeModule('dingtalk'), '--host', '127.0.0.1', '--port', String(dingtalk),
      '--tongxin-config', cfg, '--roster', roster, '--public-base-url', `http://127.0.0.1:${dingtalk}`,
      '--callback-url', `http://127.0.0.1:${api}/callbacks/dingtalk`])
    await run(tongxin, ['init-db'], this.env, path.join(this.dir, 'init-db.log'))
    await run(tongxin, ['import-org', roster], this.env, path.join(this.dir, 'import-org.log'))
    this.spawn('tongxin-serve', tongxin, ['serve', '--host', '127.0.0.1', '--port', String(api)])
    await Promise.all([
      this.waitFor('fake-wechat', `http://127.0.0.1:${wechat}/`),
      this.waitFor('fake-dingtalk', `http://127.0.0.1:${dingtalk}/`),
      this.waitFor('tongxin-serve', `http://127.0.0.1:${api}/readyz`),
    ])
    return this.info()
  }

  info() {
    return {
      dir: this.dir,
      api: `http://127.0.0.1:${this.ports.api}`,
      wechat: `http://127.0.0.1:${this.ports.wechat}`,
      dingtalk: `http://127.0.0.1:${this.ports.dingtalk}`,
      tongxin: this.bins.tongxin,
      config: path.join(this.dir, 'config.toml'),
      adminToken: ADMIN_TOKEN,
      dingtalkAppSecret: DT_APP_SECRET,
      templates: TEMPLATES,
      here: HERE,
      official: OFFICIAL,
    }
  }

  /** 结束全部子进程（先 SIGTERM，5 秒后 SIGKILL）并删除临时目录。可以重复调用。 */
  async stop() {
    const alive = this.procs.filter((p) => p.proc.exitCode === null && p.proc.signalCode === null)
    for (const p of alive) killGroup(p.proc, 'SIGTERM')
    await Promise.all(alive.map((p) => new Promise((resolve) => {
      const timer = setTimeout(() => {
        killGroup(p.proc, 'SIGKILL')
        resolve(undefined)
      }, 5000)
      p.proc.once('exit', () => {
        clearTimeout(timer)
        resolve(undefined)
      })
      if (p.proc.exitCode !== null) {
        clearTimeout(timer)
        resolve(undefined)
      }
    })))
    this.procs = []
    if (!process.env.TONGXIN_E2E_KEEP) fs.rmSync(this.dir, { recursive: true, force: true })
  }

  /** 同步版：进程意外退出时用。 */
  stopNow() {
    for (const p of this.procs) killGroup(p.proc, 'SIGKILL')
    this.procs = []
    try { fs.rmSync(this.dir, { recursive: true, force: true }) } catch (e) { /* 尽力而为 */ }
  }
}

/** @param {childProcess.ChildProcess} proc @param {NodeJS.Signals} sig */
function killGroup(proc, sig) {
  if (!proc.pid) return
  try {
    process.kill(-proc.pid, sig)
  } catch (e) {
    try { proc.kill(sig) } catch (e2) { /* 已经结束 */ }
  }
}

module.exports = { Stack, FAKE_MODULES, fakeModule, REPO, TEMPLATES, HERE, FAR, OFFICIAL, run }
