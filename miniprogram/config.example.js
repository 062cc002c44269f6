/**
 * 同心小程序配置示例。复制为 config.js 后按本县实际情况填写（config.js 随项目一起上传）。
 *
 * - apiBaseUrl：同心服务的公网地址（与服务端 [server] public_base_url 相同），必须是 https，
 *   且已加入小程序后台「开发管理 → 开发设置 → 服务器域名」的 request 合法域名和 uploadFile 合法域名。
 *   不要以 / 结尾，也不要带 /api/v1（程序会自己加）。
 * - templates：小程序后台「订阅消息」里选用的模板 id，须与服务端配置一致：
 *     reportStatus ↔ [wechat.templates] report_status（上报办理进度，必填）
 *     notice       ↔ [wechat.templates] notice（新通知，可留空）
 *     campaign     ↔ [wechat.templates] campaign（志愿活动候补转正、开始提醒、取消，可留空）
 *   留空的模板不会向居民申请授权。
 * - descriptionMaxChars / maxPhotos：须与服务端 [reports] description_max_chars、max_photos 相同
 *   （服务端默认 1000 字、9 张）。服务端才是最终把关者：超出时它会返回 422 并说明原因。
 * - requestTimeoutMs：单次请求的超时时间（毫秒）。
 */
module.exports = {
  apiBaseUrl: 'https://tongxin.example.gov.cn',
  templates: {
    reportStatus: 'REPLACE-WITH-REPORT-STATUS-TEMPLATE-ID',
    notice: '',
    campaign: '',
  },
  descriptionMaxChars: 1000,
  maxPhotos: 9,
  requestTimeoutMs: 15000,
}
