// pdfjs_browser.js — pdf.js for the page: the modern build, with its worker served from our own
// origin as a hashed asset (Vite's ?url), which the CSP's worker-src 'self' admits. pdf.js starts
// the worker as a module worker on the first getDocument(). Imported by pdf.js only in a browser,
// so the reader and its worker (about 1.5 MB) load when the first PDF is added.
import * as pdfjs from 'pdfjs-dist';
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';

pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;

export { pdfjs };
