/**
 * 游标分页：refresh() 从第一页重新取（下拉刷新），more() 取下一页（滚到底）。
 * 同一时刻只取一次；取完（next_cursor 为 null）后 more() 不再请求。
 */

/**
 * @template T
 * @typedef {{ items: T[], cursor: string | null, done: boolean, loading: boolean }} PagerState
 */

/**
 * @template T
 * @param {(cursor: string | null) => Promise<{ items: T[], next_cursor: string | null }>} fetchPage
 */
function createPager(fetchPage) {
  /** @type {PagerState<T>} */
  const state = { items: [], cursor: null, done: false, loading: false }

  /** @param {boolean} reset */
  async function load(reset) {
    if (state.loading) return state
    if (!reset && state.done) return state
    state.loading = true
    try {
      const page = await fetchPage(reset ? null : state.cursor)
      const seen = new Set()
      const merged = (reset ? [] : state.items).concat(page.items || []).filter((/** @type {any} */ it) => {
        const k = it && (it.number || it.id)
        if (k === undefined) return true
        if (seen.has(k)) return false
        seen.add(k)
        return true
      })
      state.items = merged
      state.cursor = page.next_cursor || null
      state.done = !page.next_cursor
      return state
    } finally {
      state.loading = false
    }
  }

  return {
    state,
    refresh: () => load(true),
    more: () => load(false),
  }
}

module.exports = { createPager }
