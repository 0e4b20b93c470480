import { onBeforeUnmount, onMounted } from 'vue';

// Live pages poll: every call passes the access guard as any other and needs
// no connection held open, and the node's answers are local reads. While the
// tab is hidden nothing is asked; on return it asks at once.

/** How often a page asks again (consolePollMs): a sanction issued in another city shows within about one anti-entropy round plus this. */
export const consolePollMs = 2000;

/** Runs `task` on mount and every consolePollMs while the page is visible; one run at a time. */
export function usePoll(task: () => Promise<void>, intervalMs = consolePollMs): { refresh: () => Promise<void> } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const refresh = async () => {
    running ??= task().finally(() => (running = undefined));
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(async () => {
      if (document.visibilityState === 'visible') await refresh().catch(() => undefined);
      schedule();
    }, intervalMs);
  };
  const onVisible = () => {
    if (document.visibilityState === 'visible') void refresh().catch(() => undefined);
  };
  onMounted(() => {
    void refresh().catch(() => undefined);
    schedule();
    document.addEventListener('visibilitychange', onVisible);
  });
  onBeforeUnmount(() => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  });
  return { refresh };
}
