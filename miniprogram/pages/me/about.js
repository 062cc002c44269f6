/** 关于同心，以及隐私说明（与小程序后台填写的《用户隐私保护指引》一致）。 */
Component({
  data: { version: '1.0.0' },
  methods: {
    onPrivacyContract() {
      wx.openPrivacyContract({})
    },
  },
})
