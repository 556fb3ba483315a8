/** IIFE entry: exposes window.Balise.createBalise for a plain <script> tag. */
import { createBalise } from './browser.ts';

(window as unknown as { Balise: { createBalise: typeof createBalise } }).Balise = { createBalise };
