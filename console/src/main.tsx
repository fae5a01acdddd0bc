import { render } from 'preact';
import { App } from './app';
import './style.css';

// index.html shows "Loading the console…" until the script runs; Preact 11 renders beside
// existing children, so the placeholder is removed first.
const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
