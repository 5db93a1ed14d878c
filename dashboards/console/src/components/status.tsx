/** Loading and error states shared by the pages. */
import { useI18n } from '../i18n.js';

export function Loading() {
  const i18n = useI18n();
  return (
    <p class="loading" role="status">
      {i18n.t('loading')}
    </p>
  );
}

export function LoadError(props: { what: string; error: Error; retry?: () => void }) {
  const i18n = useI18n();
  return (
    <div class="error" role="alert">
      <p>{i18n.t('error.load', { what: props.what, message: props.error.message })}</p>
      {props.retry && (
        <button type="button" class="button" onClick={props.retry}>
          {i18n.t('retry')}
        </button>
      )}
    </div>
  );
}
