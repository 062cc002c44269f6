/**
 * 两组测试：
 * - unit：miniprogram-simulate（j-component）渲染每个组件和页面，wx 接口由测试替身提供；
 * - e2e：真实的同心（tongxin serve，SQLite）+ 假微信 + 假钉钉，wx 的网络和存储走真实 HTTP。
 */
const common = {
  testEnvironment: 'jsdom',
  rootDir: __dirname,
}

module.exports = {
  projects: [
    Object.assign({}, common, {
      displayName: 'unit',
      testMatch: ['<rootDir>/tests/unit/**/*.test.js'],
      setupFilesAfterEnv: ['<rootDir>/tests/unit/setup.js'],
    }),
    Object.assign({}, common, {
      displayName: 'e2e',
      testMatch: ['<rootDir>/tests/e2e/**/*.e2e.test.js'],
      globalSetup: '<rootDir>/tests/e2e/global-setup.js',
      globalTeardown: '<rootDir>/tests/e2e/global-teardown.js',
      setupFilesAfterEnv: ['<rootDir>/tests/e2e/setup.js'],
    }),
  ],
}
