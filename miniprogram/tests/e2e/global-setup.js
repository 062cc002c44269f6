/** e2e 项目开始前：启动真实的同心和假平台，把地址交给测试进程（环境变量）。 */
const { Stack } = require('./stack')

module.exports = async function globalSetup() {
  const stack = new Stack()
  const onExit = () => stack.stopNow()
  process.once('exit', onExit)
  for (const sig of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM'])) {
    process.once(sig, () => {
      stack.stopNow()
      process.exit(130)
    })
  }
  globalThis.__TONGXIN_STACK__ = stack
  try {
    const info = await stack.start()
    process.env.TONGXIN_E2E_STACK = JSON.stringify(info)
  } catch (err) {
    await stack.stop()
    throw err
  }
}
