/** 随手拍的照片区：缩略图、上传进度、失败重试、删除、添加（最多 max 张）。 */
Component({
  properties: {
    photos: { type: Array, value: [] },
    max: { type: Number, value: 9 },
    disabled: { type: Boolean, value: false },
  },
  methods: {
    onAdd() {
      if (!this.data.disabled) this.triggerEvent('add', {})
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onRemove(e) {
      if (!this.data.disabled) this.triggerEvent('remove', { index: Number(e.currentTarget.dataset.index) })
    },
    /** @param {WechatMiniprogram.BaseEvent} e */
    onRetry(e) {
      if (!this.data.disabled) this.triggerEvent('retry', { index: Number(e.currentTarget.dataset.index) })
    },
  },
})
