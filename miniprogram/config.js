/**
 * 同心小程序配置（说明见 config.example.js 与 docs/miniprogram.md）。
 * 上线前把 apiBaseUrl 改成本县同心服务的 https 地址，把 templates 改成订阅消息模板 id。
 * 下面的值用于在微信开发者工具里连本机的 `make demo`（需勾选「不校验合法域名」）。
 */
module.exports = {
  apiBaseUrl: 'http://127.0.0.1:8000',
  templates: {
    reportStatus: 'demo-report-status',
    notice: '',
    campaign: '',
  },
  descriptionMaxChars: 1000,
  maxPhotos: 9,
  requestTimeoutMs: 15000,
}
