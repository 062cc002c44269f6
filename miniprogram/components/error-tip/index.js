/** 出错提示：一句人话，加一个可选的操作按钮（如“重试”）。 */
Component({
  properties: {
    message: { type: String, value: '' },
    actionText: { type: String, value: '' },
  },
  methods: {
    onAction() {
      this.triggerEvent('action', {})
    },
  },
})
