/** 每个组件都能渲染，并且显示/触发应有的内容和事件。 */
const { render, settle, text } = require('./helpers/render')

test('status-badge shows the Chinese label for each status', async () => {
  const c = render('components/status-badge/index', { status: 'resolved' })
  await settle()
  expect(text(c)).toBe('待评价')
  c.setData({ status: 'pending' })
  await settle()
  expect(text(c)).toBe('待受理')
  expect(c.querySelector('.badge-wait')).toBeTruthy()
})

test('star-rating emits the chosen score and ignores taps when read-only', async () => {
  const c = render('components/star-rating/index', { value: 0 })
  const got = []
  c.addEventListener('change', (e) => got.push(e.detail.value))
  c.querySelectorAll('.star')[3].dispatchEvent('tap')
  await settle()
  expect(got).toEqual([4])
  expect(text(c)).toContain('满意')
  const ro = render('components/star-rating/index', { value: 2, readonly: true })
  const none = []
  ro.addEventListener('change', (e) => none.push(e))
  ro.querySelectorAll('.star')[4].dispatchEvent('tap')
  await settle()
  expect(none).toEqual([])
  expect(ro.querySelectorAll('.star.on')).toHaveLength(2)
})

test('photo-grid shows the photos with a count and previews on tap', async () => {
  const c = render('components/photo-grid/index', { title: '处理前', photos: [{ url: 'https://x/1.jpg', thumbnail_url: 'https://x/1t.jpg' }, { url: 'https://x/2.jpg' }] })
  await settle()
  expect(text(c)).toContain('处理前（2 张）')
  c.querySelectorAll('.thumb')[1].dispatchEvent('tap')
  await settle()
  expect(fakeWx.calls.preview[0]).toEqual({ current: 'https://x/2.jpg', urls: ['https://x/1.jpg', 'https://x/2.jpg'] })
  const empty = render('components/photo-grid/index', { title: '处理后', photos: [], emptyText: '没有照片' })
  expect(text(empty)).toContain('没有照片')
})

test('report-timeline labels actions and marks officials replies', async () => {
  const c = render('components/report-timeline/index')
  c.setData({ items: [
    { at: '2026-12-06T01:00:00+00:00', status: 'pending', action: 'submit', channel: 'wechat', actor: { kind: 'resident', name: '' }, note: '' },
    { at: '2026-12-06T02:30:00+00:00', status: 'resolved', action: 'resolve', channel: 'dingtalk', actor: { kind: 'official', name: '王网格' }, note: '已清理' },
  ] })
  await settle()
  const t = text(c)
  expect(t).toContain('提交上报')
  expect(t).toContain('2026-12-06 10:30')
  expect(t).toContain('工作人员：王网格')
  expect(t).toContain('答复：已清理')
  expect(c.querySelectorAll('.step.official')).toHaveLength(1)
})

test('photo-picker shows progress, failures with retry, remove and add', async () => {
  const c = render('components/photo-picker/index', { max: 3, photos: [
    { path: 'a.jpg', status: 'uploading', progress: 40 },
    { path: 'b.jpg', status: 'failed', progress: 0 },
  ] })
  await settle()
  const t = text(c)
  expect(t).toContain('上传中 40%')
  expect(t).toContain('失败，点此重试')
  expect(t).toContain('2/3 张')
  const events = []
  for (const name of ['add', 'remove', 'retry']) c.addEventListener(name, (e) => events.push([name, e.detail]))
  c.querySelector('.state.failed').dispatchEvent('tap')
  c.querySelectorAll('.remove')[0].dispatchEvent('tap')
  c.querySelector('.add').dispatchEvent('tap')
  await settle()
  expect(events).toEqual([['retry', { index: 1 }], ['remove', { index: 0 }], ['add', {}]])
  c.setData({ photos: [{ path: 'a' }, { path: 'b' }, { path: 'c' }] })
  await settle()
  expect(c.querySelector('.add')).toBeFalsy() // 满了就不能再加
})

test('error-tip shows the message and its action', async () => {
  const c = render('components/error-tip/index', { message: '网络不太好', actionText: '重试' })
  const hits = []
  c.addEventListener('action', () => hits.push(1))
  c.querySelector('.act').dispatchEvent('tap')
  await settle()
  expect(text(c)).toContain('网络不太好')
  expect(hits).toEqual([1])
  const none = render('components/error-tip/index', { message: '' })
  expect(text(none).trim()).toBe('')
})
