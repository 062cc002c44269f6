/** e2e 项目结束后（无论成败）：结束全部子进程，删除临时目录。 */
module.exports = async function globalTeardown() {
  const stack = globalThis.__TONGXIN_STACK__
  if (stack) await stack.stop()
}
