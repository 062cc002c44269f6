/** 用 miniprogram-simulate 加载并渲染一个页面或组件（官方 WXML 编译器编译）。 */
const fs = require('fs')
const path = require('path')
const simulate = require('miniprogram-simulate')

const ROOT = path.resolve(__dirname, '../../..')

/**
 * @param {string} rel 例如 'pages/report/new' 或 'components/status-badge/index'
 * @param {object} [props]
 */
/**
 * 每个组件/页面文件只加载（编译、执行 Component 定义）一次：在 jest 里同一个 js 文件不会被执行第二次，
 * 所以页面用到的自定义组件也复用第一次注册得到的 id（通过 simulate.load 的 usingComponents 覆盖）。
 */
const loaded = new Map()

/** @param {string} rel */
function load(rel) {
  let id = loaded.get(rel)
  if (id) return id
  const json = JSON.parse(fs.readFileSync(path.join(ROOT, rel + '.json'), 'utf8'))
  const usingComponents = {}
  for (const [tag, target] of Object.entries(json.usingComponents || {})) {
    usingComponents[tag] = load(String(target).replace(/^\//, ''))
  }
  id = simulate.load(path.join(ROOT, rel), { rootPath: ROOT, usingComponents })
  loaded.set(rel, id)
  return id
}

function render(rel, props) {
  const id = load(rel)
  const comp = simulate.render(id, props)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

/**
 * 渲染页面并调用 onLoad(query)。
 * @param {string} rel
 * @param {Record<string, string>} [query]
 */
function renderPage(rel, query) {
  const comp = render(rel)
  if (typeof comp.instance.onLoad === 'function') comp.instance.onLoad(query || {})
  return comp
}

/** 等异步回答（setTimeout 0 链）都跑完。 */
async function settle(rounds = 8) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0))
}

/** 页面里所有文字（去掉多余空白），用来断言居民看到了什么。 */
function text(comp) {
  return comp.dom.textContent.replace(/\s+/g, ' ')
}

module.exports = { render, renderPage, settle, text, ROOT, simulate }
