/**
 * Signing in to the console with an API key: every API route needs one (docs/access.md), so no
 * page shows data before sign-in. The key is kept in sessionStorage (this tab only) or, with
 * "remember on this device", in localStorage; `GET /api/v1/auth/whoami` says whose it is (role,
 * party); ApiKeyContext hands it to every request of the console.
 *
 * `wattproof start` prints the console's address with the local admin key in the URL fragment
 * (`/#key=wp_…`): fragments never reach the server or its logs. The console takes the key from
 * there before anything else runs (takeKeyFromFragment), keeps it for the tab and removes it from
 * the address bar and the history entry.
 */
import { createContext } from 'preact';
import type { ComponentChildren } from 'preact';
import { useContext, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError, ApiKeyContext } from './api.js';
import { useI18n } from './i18n.js';
import { authJson, type Whoami } from './finance/api.js';

const STORAGE_KEY = 'wattproof.apiKey';
/** `wp_<16-character key id>_<43-character secret>` (docs/access.md). */
export const API_KEY_PATTERN = /^wp_[A-Za-z0-9]{16}_[A-Za-z0-9_-]{43}$/;
/** The fragment `wattproof start` puts the key in: `#key=wp_…`. */
const FRAGMENT_KEY = /^#key=([^&]*)$/;

/**
 * Moves a key given in the URL fragment (`#key=wp_…`) into sessionStorage and removes the
 * fragment from the address bar without a new history entry. Call once, before the app renders
 * (the router would read the fragment as a page). True when a well-formed key was taken.
 */
export function takeKeyFromFragment(): boolean {
  const m = FRAGMENT_KEY.exec(location.hash);
  if (!m) return false;
  // The secret leaves the address bar (and the history entry) whatever it is.
  history.replaceState(history.state, '', `${location.pathname}${location.search}`);
  let key = '';
  try {
    key = decodeURIComponent(m[1] ?? '');
  } catch {
    return false;
  }
  if (!API_KEY_PATTERN.test(key)) return false;
  store(key, false);
  return true;
}

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function store(key: string | null, remember: boolean): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
    localStorage.removeItem(STORAGE_KEY);
    if (key) (remember ? localStorage : sessionStorage).setItem(STORAGE_KEY, key);
  } catch {
    // Storage disabled: the key lives in memory for this page only.
  }
}

export interface Auth {
  /** The key, once whoami accepted it. */
  readonly key: string | null;
  readonly identity: Whoami | null;
  /** A stored key is being checked. */
  readonly checking: boolean;
  /** Why a stored key was dropped (expired, revoked), for a notice. */
  readonly dropped: string | null;
  signIn(key: string, remember: boolean): Promise<void>;
  signOut(): void;
  openDialog(): void;
}

const AuthContext = createContext<Auth>({ key: null, identity: null, checking: false, dropped: null, signIn: async () => undefined, signOut: () => undefined, openDialog: () => undefined });
export const useAuth = (): Auth => useContext(AuthContext);

export function AuthProvider(props: { children: ComponentChildren }) {
  const [state, setState] = useState<{ key: string | null; identity: Whoami | null; checking: boolean; dropped: string | null }>(() => {
    const key = storedKey();
    return { key: null, identity: null, checking: key !== null, dropped: null };
  });
  const [open, setOpen] = useState(false);

  useEffect(() => {
    const check = () => {
      const key = storedKey();
      if (!key) return;
      setState((s) => ({ ...s, checking: true }));
      authJson<Whoami>(key, '/api/v1/auth/whoami').then(
        (identity) => setState({ key, identity, checking: false, dropped: null }),
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 401) store(null, false);
          setState({ key: null, identity: null, checking: false, dropped: err instanceof ApiError ? err.code : String(err) });
        },
      );
    };
    check();
    // A sign-in address opened in a tab that already shows the console changes only the fragment.
    const onHash = () => {
      if (takeKeyFromFragment()) check();
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const auth: Auth = {
    ...state,
    async signIn(key, remember) {
      const identity = await authJson<Whoami>(key, '/api/v1/auth/whoami');
      store(key, remember);
      setState({ key, identity, checking: false, dropped: null });
    },
    signOut() {
      store(null, false);
      setState({ key: null, identity: null, checking: false, dropped: null });
    },
    openDialog: () => setOpen(true),
  };
  return (
    <AuthContext.Provider value={auth}>
      <ApiKeyContext.Provider value={state.key}>
        {props.children}
        {open && <SignInDialog onClose={() => setOpen(false)} />}
      </ApiKeyContext.Provider>
    </AuthContext.Provider>
  );
}

/** The header's account control: "Sign in with API key", or role · party and "Sign out". */
export function AccountControl() {
  const i18n = useI18n();
  const auth = useAuth();
  if (auth.checking) return <span class="account muted-inverse">{i18n.t('auth.checking')}</span>;
  if (!auth.identity) {
    return (
      <button type="button" class="account-button" onClick={auth.openDialog} data-sign-in>
        {i18n.t('auth.signIn')}
      </button>
    );
  }
  const who = auth.identity;
  return (
    <span class="account" data-account={who.role}>
      <span class="account-who">
        <span class="role-chip">{i18n.label('apiRole', who.role)}</span>
        <span>{who.party ?? i18n.t('auth.noParty')}</span>
      </span>
      <button type="button" class="account-button" onClick={auth.signOut} data-sign-out>
        {i18n.t('auth.signOut')}
      </button>
    </span>
  );
}

function SignInDialog(props: { onClose: () => void }) {
  const i18n = useI18n();
  const auth = useAuth();
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  const [key, setKey] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    const opener = document.activeElement as HTMLElement | null;
    d.showModal();
    input.current?.focus();
    const onClose = () => props.onClose();
    d.addEventListener('close', onClose);
    return () => {
      d.removeEventListener('close', onClose);
      opener?.focus?.();
    };
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!API_KEY_PATTERN.test(k)) {
      setError(i18n.t('auth.error.format'));
      input.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await auth.signIn(k, remember);
      dialog.current?.close();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? i18n.t('auth.error.rejected', { code: err.code }) : i18n.t('auth.error.other', { message: err instanceof Error ? err.message : String(err) }));
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} class="sign-in" aria-labelledby={`${id}-t`} aria-describedby={`${id}-d`}>
      <form onSubmit={submit} noValidate>
        <h2 id={`${id}-t`}>{i18n.t('auth.dialogTitle')}</h2>
        <p id={`${id}-d`} class="note">
          {i18n.t('auth.dialogIntro')}
        </p>
        <label for={`${id}-k`}>{i18n.t('auth.keyLabel')}</label>
        <input
          ref={input}
          id={`${id}-k`}
          name="apiKey"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={`${id}-h${error ? ` ${id}-e` : ''}`}
          placeholder="wp_…"
          required
        />
        <p id={`${id}-h`} class="note">
          {i18n.t('auth.keyHelp')}
        </p>
        <p id={`${id}-e`} class="field-error" role="alert" aria-live="assertive">
          {error ?? ''}
        </p>
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} />
          {i18n.t('auth.remember')}
        </label>
        <p class="note">{i18n.t(remember ? 'auth.rememberOn' : 'auth.rememberOff')}</p>
        <div class="dialog-actions">
          <button type="button" class="button secondary" onClick={() => dialog.current?.close()}>
            {i18n.t('auth.cancel')}
          </button>
          <button type="submit" class="button" disabled={busy}>
            {busy ? i18n.t('auth.checking') : i18n.t('auth.submit')}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Shown instead of a page without a key: what it needs and a button to sign in. */
export function SignInPrompt(props: { what: string }) {
  const i18n = useI18n();
  const auth = useAuth();
  return (
    <div class="notice sign-in-prompt" data-needs-sign-in>
      <p>{i18n.t('auth.needed', { what: props.what })}</p>
      {auth.dropped && <p class="note">{i18n.t('auth.dropped', { code: auth.dropped })}</p>}
      <button type="button" class="button" onClick={auth.openDialog}>
        {i18n.t('auth.signIn')}
      </button>
    </div>
  );
}
