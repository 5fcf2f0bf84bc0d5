/* The gate app's service worker (served by credentials/entry/views_app.py at /gate/app/sw.js,
   which puts self.GATE_SHELL before this text: the version, the page and the static files).

   - The app shell (the page, its manifest, scripts, styles, vendor files, icons) is kept, so the
     app opens without the network. The page is fetched from the network first and kept; the
     static files come from the cache (a new version of any of them is a new worker and cache).
   - The device API and the photos are never answered from or put into the cache: they go to the
     network as if there were no worker, and the app decides offline when that fails. */
"use strict";

const SHELL = self.GATE_SHELL || {
  version: "dev",
  page: "/gate/app/",
  urls: ["/gate/app/"],
  network_only: ["/gate/api/", "/gate/photo/"],
};
const PREFIX = "ciie-gate-shell-";
const CACHE = PREFIX + SHELL.version;
const SHELL_PATHS = new Set(
  SHELL.urls.map(function (url) { return new URL(url, self.location.href).pathname; })
);
const PAGE = new URL(SHELL.page, self.location.href).pathname;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // One file that cannot be fetched does not stop the others from being kept.
      return Promise.all(SHELL.urls.map(function (url) {
        return fetch(url, { cache: "reload", credentials: "same-origin" })
          .then(function (response) { if (response.ok) return cache.put(url, response); })
          .catch(function () {});
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) {
        return key.startsWith(PREFIX) && key !== CACHE;
      }).map(function (key) { return caches.delete(key); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function networkOnly(url) {
  return (SHELL.network_only || []).some(function (prefix) { return url.pathname.startsWith(prefix); });
}

self.addEventListener("fetch", function (event) {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || networkOnly(url)) return;

  if (request.mode === "navigate" && url.pathname === PAGE) {
    // The page: the network's (current language, current scripts), else the one kept.
    event.respondWith(
      fetch(request).then(function (response) {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then(function (cache) { return cache.put(SHELL.page, copy); });
        }
        return response;
      }).catch(function () {
        return caches.open(CACHE).then(function (cache) {
          return cache.match(SHELL.page, { ignoreSearch: true, ignoreVary: true });
        }).then(function (kept) { return kept || Response.error(); });
      })
    );
    return;
  }

  if (SHELL_PATHS.has(url.pathname)) {
    event.respondWith(
      caches.open(CACHE).then(function (cache) {
        return cache.match(request, { ignoreVary: true }).then(function (kept) {
          return kept || fetch(request);
        });
      })
    );
  }
});
