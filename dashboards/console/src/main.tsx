/** Entry of the console bundle: takes a key given in the URL fragment, then mounts the app into #app. */
import { render } from 'preact';
import { App } from './app.js';
import { takeKeyFromFragment } from './auth.js';
import './styles.css';

// Before the router reads the fragment as a page address.
takeKeyFromFragment();
const root = document.getElementById('app');
if (root) render(<App />, root);
