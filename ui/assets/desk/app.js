// The officers' desk: a small single-page app over the JSON API of `hoso ui`.
// No framework and no build step; every control is a native element, so the
// whole desk works with the keyboard (Alt+1..5 switch screens, "/" searches).
'use strict';

const T = {
  vi: {
    title: 'Hồ sơ một cửa', nav_inbox: 'Việc của tôi', nav_intake: 'Tiếp nhận', nav_search: 'Tra cứu', nav_sync: 'Đồng bộ',
    nav_register: 'Sổ theo dõi', signout: 'Đăng xuất', lang: 'English',
    signin_title: 'Đăng nhập cán bộ', key_file: 'Tệp khóa của cán bộ (.key)', passphrase: 'Mật khẩu', signin: 'Đăng nhập',
    signin_hint: 'Khóa được mở trên máy này, không gửi đi đâu; tự khóa sau 15 phút không dùng.',
    inbox_title: 'Việc của tôi', inbox_empty: 'Không có hồ sơ nào chờ bạn xử lý.', code: 'Mã hồ sơ', applicant: 'Người nộp',
    procedure: 'Thủ tục', due: 'Hẹn trả', status: 'Trạng thái', step: 'Bước', role: 'vai trò', received: 'Tiếp nhận lúc',
    intake_title: 'Tiếp nhận hồ sơ', find_procedure: 'Tìm thủ tục (tên hoặc mã)', applicant_name: 'Họ và tên người nộp',
    attachments: 'Giấy tờ kèm theo', drop: 'Kéo thả tệp vào đây, hoặc bấm để chọn tệp', receive: 'Tiếp nhận và cấp giấy hẹn',
    received_ok: 'Đã tiếp nhận hồ sơ', required: 'bắt buộc', choose_procedure: 'Chọn một thủ tục trước.',
    days: 'ngày làm việc', remove: 'Bỏ', dossier: 'Hồ sơ', fields: 'Thông tin', timeline: 'Quá trình xử lý',
    when: 'Thời gian', action: 'Thao tác', officer: 'Cán bộ', timeliness: 'Đúng/quá hạn', verified: 'Chữ ký hợp lệ',
    not_verified: 'CHỮ KÝ KHÔNG HỢP LỆ', on_time: 'Đúng hạn', late: 'Quá hạn', note: 'Ghi chú / lý do', until: 'Ngày hẹn mới',
    actions: 'Xử lý', no_actions: 'Bạn không có thao tác nào ở bước này.', note_needed: 'Thao tác này cần ghi lý do.',
    date_needed: 'Chọn ngày hẹn mới.', done: 'Đã ký và lưu', print: 'In phiếu', f01: '01 Giấy tiếp nhận và hẹn trả',
    f02: '02 Phiếu yêu cầu bổ sung', f03: '03 Phiếu từ chối', f04: '04 Phiếu xin lỗi, hẹn lại', f06: '06 Phiếu kiểm soát',
    search_title: 'Tra cứu hồ sơ', search_hint: 'Mã hồ sơ, tên người nộp hoặc thông tin (không cần dấu)', search_none: 'Không tìm thấy hồ sơ.',
    sync_title: 'Đồng bộ với máy chủ tỉnh', server: 'Máy chủ', pending_events: 'Sự kiện chờ gửi', pending_att: 'Tệp đính kèm chờ gửi',
    last_sync: 'Lần đồng bộ thành công gần nhất', never: 'chưa bao giờ', sync_now: 'Đồng bộ ngay', syncing: 'Đang đồng bộ…',
    sync_ok: 'Đồng bộ xong', register_title: 'Sổ theo dõi hồ sơ (mẫu 07)', from: 'Từ ngày', to: 'Đến ngày', open: 'Mở sổ để in',
    overdue: 'QUÁ HẠN', stopped: 'dừng tính giờ', attachment: 'Tệp', size: 'Dung lượng', holder: 'Đơn vị giữ',
    locked: 'Phiên đã khóa. Vui lòng đăng nhập lại.', pulled: 'nhận', pushed: 'gửi',
    st: { received: 'Mới tiếp nhận', in_progress: 'Đang xử lý', forwarded: 'Đã chuyển', awaiting_supplement: 'Chờ bổ sung',
          suspended: 'Tạm dừng', approved: 'Đã duyệt', returned: 'Đã trả kết quả', rejected: 'Từ chối', withdrawn: 'Đã rút' },
    steps: { receive: 'Tiếp nhận', review: 'Thẩm định', sign: 'Ký duyệt', deliver: 'Trả kết quả', province_review: 'Tỉnh thẩm định' },
    acts: { receive: 'Tiếp nhận', accept: 'Chấp nhận', approve: 'Phê duyệt', send_back: 'Trả lại', forward: 'Chuyển cấp trên',
            request_supplement: 'Yêu cầu bổ sung', reject: 'Từ chối', deliver: 'Trả kết quả', withdraw: 'Rút hồ sơ',
            suspend: 'Tạm dừng', resume: 'Tiếp tục', extend: 'Gia hạn', amend: 'Sửa thông tin', resolve: 'Xử lý nhánh' },
    roles: { receiver: 'cán bộ tiếp nhận', specialist: 'chuyên viên', leader: 'lãnh đạo' },
  },
  en: {
    title: 'One-stop desk', nav_inbox: 'My tasks', nav_intake: 'Intake', nav_search: 'Search', nav_sync: 'Sync',
    nav_register: 'Register', signout: 'Sign out', lang: 'Tiếng Việt',
    signin_title: 'Officer sign-in', key_file: 'Your key file (.key)', passphrase: 'Passphrase', signin: 'Sign in',
    signin_hint: 'Your key is opened on this laptop only; it locks after 15 idle minutes.',
    inbox_title: 'My tasks', inbox_empty: 'Nothing is waiting for you.', code: 'Code', applicant: 'Applicant',
    procedure: 'Procedure', due: 'Due', status: 'Status', step: 'Step', role: 'role', received: 'Received',
    intake_title: 'Receive a dossier', find_procedure: 'Find a procedure (name or code)', applicant_name: "Applicant's full name",
    attachments: 'Documents', drop: 'Drop files here, or press to choose', receive: 'Receive and print the slip',
    received_ok: 'Dossier received', required: 'required', choose_procedure: 'Choose a procedure first.',
    days: 'working days', remove: 'Remove', dossier: 'Dossier', fields: 'Details', timeline: 'History',
    when: 'When', action: 'Action', officer: 'Officer', timeliness: 'On time?', verified: 'Signature verified',
    not_verified: 'SIGNATURE INVALID', on_time: 'On time', late: 'Late', note: 'Note / reason', until: 'New appointment',
    actions: 'Actions', no_actions: 'You have no action at this step.', note_needed: 'This action needs a note.',
    date_needed: 'Choose the new date.', done: 'Signed and saved', print: 'Print', f01: '01 Receipt and appointment',
    f02: '02 Supplement request', f03: '03 Refusal', f04: '04 Apology, new appointment', f06: '06 Process control slip',
    search_title: 'Search dossiers', search_hint: 'Code, applicant or any field (accents optional)', search_none: 'No dossier found.',
    sync_title: 'Sync with the province', server: 'Server', pending_events: 'Events waiting', pending_att: 'Attachments waiting',
    last_sync: 'Last successful sync', never: 'never', sync_now: 'Sync now', syncing: 'Syncing…',
    sync_ok: 'Sync done', register_title: 'Dossier register (form 07)', from: 'From', to: 'To', open: 'Open to print',
    overdue: 'OVERDUE', stopped: 'clock stopped', attachment: 'File', size: 'Size', holder: 'Held by',
    locked: 'Your session locked. Please sign in again.', pulled: 'pulled', pushed: 'pushed',
    st: {}, steps: {}, acts: {}, roles: {},
  },
};
let lang = localStorage.getItem('hoso.lang') || 'vi';
const t = (k) => T[lang][k] ?? T.vi[k] ?? k;
const tl = (group, k) => T[lang][group][k] ?? (lang === 'vi' ? k : k.replace(/_/g, ' '));

const state = { csrf: '', officer: null, syncTimer: null };
const $ = (sel, root = document) => root.querySelector(sel);
const main = () => $('#main');

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

function toast(msg, err = false) {
  const d = h('div', { class: err ? 'err' : '' }, msg);
  $('#toast').append(d);
  setTimeout(() => d.remove(), err ? 8000 : 4000);
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    opt.headers['X-CSRF-Token'] = state.csrf;
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body ?? {});
  }
  const r = await fetch(path, opt);
  let j = {};
  try { j = await r.json(); } catch { j = { error: r.statusText }; }
  if (r.status === 401 && path !== '/api/signin') { state.officer = null; showSignin(t('locked')); throw new Error(t('locked')); }
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

function fold(s) {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase();
}

function b64(buf) {
  const bytes = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function dueCell(d) {
  if (d.urgency === 'done') return h('span', { class: 'due urg-done' }, tl('st', d.status));
  if (!d.due) return h('span', { class: 'due urg-stopped' }, t('stopped'));
  return h('span', { class: 'due urg-' + d.urgency, title: d.due_at }, d.due, d.urgency === 'overdue' ? ' ⚠' : '');
}

function dossierRows(list) {
  return h('table', { class: 'list' },
    h('thead', {}, h('tr', {}, h('th', {}, t('code')), h('th', {}, t('applicant')), h('th', {}, t('procedure')),
      h('th', {}, t('step')), h('th', {}, t('status')), h('th', {}, t('due')))),
    h('tbody', {}, list.map((d) => h('tr', { 'data-code': d.code },
      h('td', {}, h('a', { href: '#/d/' + encodeURIComponent(d.code) }, d.code)), h('td', {}, d.applicant),
      h('td', {}, d.procedure_name), h('td', {}, tl('steps', d.step)), h('td', {}, tl('st', d.status)), h('td', {}, dueCell(d))))));
}

// ---- screens ----

function showSignin(msg) {
  $('#top').hidden = true;
  const err = h('p', { class: 'error', id: 'signin-error', role: 'alert' }, msg || '');
  const file = h('input', { type: 'file', id: 'signin-key', accept: '.key', required: true });
  const pass = h('input', { type: 'password', id: 'signin-pass', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'card signin', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    if (!file.files[0]) { err.textContent = t('key_file'); file.focus(); return; }
    try {
      const key = b64(await file.files[0].arrayBuffer());
      const j = await api('POST', '/api/signin', { key, passphrase: pass.value });
      pass.value = '';
      state.csrf = j.csrf;
      state.officer = j.officer;
      signedIn();
      location.hash = '#/inbox';
      route();
    } catch (x) { err.textContent = x.message; pass.select(); }
  } },
  h('h1', {}, t('signin_title')),
  h('label', { for: 'signin-key' }, t('key_file')), file,
  h('label', { for: 'signin-pass' }, t('passphrase')), pass,
  h('p', { class: 'muted' }, t('signin_hint')), err,
  h('button', { type: 'submit', id: 'signin-submit' }, t('signin')));
  main().replaceChildren(form);
  file.focus();
}

function signedIn() {
  $('#top').hidden = false;
  $('#unit-name').textContent = state.officer.unit_name;
  $('#officer-name').textContent = state.officer.name + ' (' + state.officer.roles.map((r) => tl('roles', r)).join(', ') + ')';
  document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
  document.querySelectorAll('nav a').forEach((a) => { a.dataset.key = 'Alt+' + a.getAttribute('accesskey'); });
  $('#lang').textContent = t('lang');
  document.documentElement.lang = lang;
  document.title = t('title');
}

async function showInbox() {
  const j = await api('GET', '/api/inbox');
  const groups = new Map();
  for (const d of j.dossiers) {
    if (!groups.has(d.step)) groups.set(d.step, []);
    groups.get(d.step).push(d);
  }
  const body = [h('h1', {}, t('inbox_title'), ' (', String(j.dossiers.length), ')')];
  if (!j.dossiers.length) body.push(h('p', { class: 'card', id: 'inbox-empty' }, t('inbox_empty')));
  for (const [step, list] of groups)
    body.push(h('section', { class: 'card', 'data-step': step }, h('h2', {}, tl('steps', step), ' (' + tl('roles', list[0].role) + ') — ', String(list.length)), dossierRows(list)));
  main().replaceChildren(...body);
  main().querySelector('tbody a')?.focus();
}

async function showIntake() {
  const procs = (await api('GET', '/api/procedures')).procedures;
  let chosen = null;
  const files = [];
  const q = h('input', { type: 'search', id: 'intake-proc-q', autocomplete: 'off' });
  const list = h('ul', { class: 'plist', id: 'intake-procs' });
  const formBox = h('div', { id: 'intake-form' });
  const renderList = () => {
    const f = fold(q.value.trim());
    const hits = procs.filter((p) => !f || fold(p.code + ' ' + p.name).includes(f)).slice(0, 30);
    list.replaceChildren(...hits.map((p) => h('li', {}, h('button', { type: 'button', 'data-code': p.code,
      onclick: () => choose(p) }, p.code + ' — ' + p.name + ' (' + p.days + ' ' + t('days') + ')'))));
  };
  q.addEventListener('input', renderList);
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); list.querySelector('button')?.click(); } if (e.key === 'ArrowDown') { e.preventDefault(); list.querySelector('button')?.focus(); } });
  list.addEventListener('keydown', (e) => {
    const btns = [...list.querySelectorAll('button')]; const i = btns.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' && i >= 0) { e.preventDefault(); btns[Math.min(i + 1, btns.length - 1)].focus(); }
    if (e.key === 'ArrowUp' && i >= 0) { e.preventDefault(); (i === 0 ? q : btns[i - 1]).focus(); }
  });
  const fileList = h('ul', { id: 'intake-file-list' });
  const renderFiles = () => fileList.replaceChildren(...files.map((f, i) => h('li', {}, f.name + ' (' + Math.ceil(f.size / 1024) + ' KB) ',
    h('button', { type: 'button', class: 'secondary', onclick: () => { files.splice(i, 1); renderFiles(); } }, t('remove')))));
  const picker = h('input', { type: 'file', id: 'intake-files', multiple: true, onchange: () => { files.push(...picker.files); picker.value = ''; renderFiles(); } });
  const drop = h('label', { class: 'drop', id: 'intake-drop', for: 'intake-files', tabindex: '0',
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); picker.click(); } },
    ondragover: (e) => { e.preventDefault(); drop.classList.add('over'); },
    ondragleave: () => drop.classList.remove('over'),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove('over'); files.push(...e.dataTransfer.files); renderFiles(); } }, t('drop'));
  picker.hidden = true;
  const err = h('p', { class: 'error', id: 'intake-error', role: 'alert' });
  const choose = (p) => {
    chosen = p;
    const inputs = p.fields.map((f) => {
      const id = 'field-' + f.name;
      let input;
      if (f.type === 'choice') input = h('select', { id, name: f.name, required: f.required }, h('option', { value: '' }, ''), f.options.map((o) => h('option', { value: o }, o)));
      else input = h('input', { id, name: f.name, type: f.type === 'date' ? 'date' : f.type === 'number' ? 'text' : 'text', inputmode: f.type === 'number' ? 'decimal' : null, required: f.required });
      return [h('label', { for: id }, f.label, f.required ? ' *' : ''), input];
    });
    formBox.replaceChildren(h('form', { class: 'card', id: 'intake', onsubmit: submit },
      h('h2', {}, p.code + ' — ' + p.name),
      h('label', { for: 'intake-applicant' }, t('applicant_name'), ' *'), h('input', { type: 'text', id: 'intake-applicant', required: true, autocomplete: 'off' }),
      inputs, h('label', {}, t('attachments')), drop, picker, fileList, err,
      h('button', { type: 'submit', id: 'intake-submit' }, t('receive'))));
    $('#intake-applicant').focus();
  };
  const submit = async (e) => {
    e.preventDefault();
    err.textContent = '';
    if (!chosen) { err.textContent = t('choose_procedure'); return; }
    const fields = {};
    for (const f of chosen.fields) { const v = $('#field-' + f.name).value.trim(); if (v) fields[f.name] = v; }
    const btn = $('#intake-submit'); btn.disabled = true;
    try {
      const attachments = [];
      for (const f of files) attachments.push({ name: f.name, data: b64(await f.arrayBuffer()) });
      const j = await api('POST', '/api/receive', { procedure: chosen.code, applicant: $('#intake-applicant').value, fields, attachments });
      toast(t('received_ok') + ' ' + j.code + ' — ' + t('due') + ' ' + j.due);
      location.hash = '#/d/' + encodeURIComponent(j.code);
    } catch (x) { err.textContent = x.message; btn.disabled = false; }
  };
  main().replaceChildren(h('h1', {}, t('intake_title')),
    h('div', { class: 'card' }, h('label', { for: 'intake-proc-q' }, t('find_procedure')), q, list), formBox);
  renderList();
  q.focus();
}

async function showDossier(code) {
  const d = await api('GET', '/api/dossiers/' + encodeURIComponent(code));
  const fieldRows = Object.entries(d.fields).map(([k, v]) => [h('dt', {}, d.field_labels[k] || k), h('dd', {}, v)]);
  const note = h('textarea', { id: 'act-note', rows: 2 });
  const until = h('input', { type: 'date', id: 'act-until' });
  const err = h('p', { class: 'error', id: 'act-error', role: 'alert' });
  const needsNote = d.actions.some((a) => a.needs_note), needsDate = d.actions.some((a) => a.needs_date);
  const doAct = async (a) => {
    err.textContent = '';
    if (a.needs_note && !note.value.trim()) { err.textContent = t('note_needed'); note.focus(); return; }
    if (a.needs_date && !until.value) { err.textContent = t('date_needed'); until.focus(); return; }
    main().querySelectorAll('.actions button').forEach((b) => { b.disabled = true; });
    try {
      await api('POST', '/api/dossiers/' + encodeURIComponent(d.code) + '/act', { action: a.action, note: note.value.trim(), until: a.needs_date ? until.value : '' });
      toast(t('done') + ': ' + tl('acts', a.action));
      await showDossier(code);
    } catch (x) { err.textContent = x.message; main().querySelectorAll('.actions button').forEach((b) => { b.disabled = false; }); }
  };
  const acts = d.actions.length
    ? [needsNote ? [h('label', { for: 'act-note' }, t('note')), note] : null,
       needsDate ? [h('label', { for: 'act-until' }, t('until')), until] : null, err,
       h('div', { class: 'actions' }, d.actions.map((a) => h('button', { type: 'button', 'data-action': a.action,
         class: ['reject', 'withdraw'].includes(a.action) ? 'danger' : (a.needs_note ? 'secondary' : ''),
         onclick: () => doAct(a) }, tl('acts', a.action), a.needs_note ? ' ✎' : '')))]
    : [h('p', { class: 'muted', id: 'no-actions' }, t('no_actions'))];
  const has = (a) => d.timeline.some((e) => e.action === a);
  const form = (n, label) => h('a', { class: 'btn secondary', href: '/forms/' + n + '/' + encodeURIComponent(d.code), target: '_blank', id: 'form-' + n }, label);
  main().replaceChildren(
    h('h1', {}, t('dossier') + ' ', h('span', { id: 'dossier-code' }, d.code), ' ', h('span', { class: 'badge urg-' + d.urgency, id: 'dossier-status' }, tl('st', d.status))),
    h('div', { class: 'row' },
      h('section', { class: 'card' }, h('dl', { class: 'kv' },
        h('dt', {}, t('applicant')), h('dd', { id: 'dossier-applicant' }, d.applicant),
        h('dt', {}, t('procedure')), h('dd', {}, d.procedure + ' — ' + d.procedure_name),
        h('dt', {}, t('step')), h('dd', {}, tl('steps', d.step)),
        h('dt', {}, t('holder')), h('dd', {}, d.holder_name),
        h('dt', {}, t('received')), h('dd', {}, d.received),
        h('dt', {}, t('due')), h('dd', {}, dueCell(d)), fieldRows),
        d.attachments.length ? [h('h2', {}, t('attachments')), h('ul', { id: 'dossier-files' }, d.attachments.map((a) => h('li', {}, a.name + ' (' + Math.ceil(a.size / 1024) + ' KB)')))] : null),
      h('section', { class: 'card', id: 'dossier-actions' }, h('h2', {}, t('actions')), acts,
        h('h2', {}, t('print')), h('div', { class: 'actions' }, form('01', t('f01')), form('06', t('f06')),
          has('request_supplement') ? form('02', t('f02')) : null, has('reject') ? form('03', t('f03')) : null,
          has('extend') ? form('04', t('f04')) : null))),
    h('section', { class: 'card' }, h('h2', {}, t('timeline')),
      h('table', { id: 'timeline' }, h('thead', {}, h('tr', {}, h('th', {}, t('when')), h('th', {}, t('step')), h('th', {}, t('action')),
        h('th', {}, t('officer')), h('th', {}, t('timeliness')), h('th', {}, t('note')), h('th', {}, ''))),
      h('tbody', {}, d.timeline.map((e) => h('tr', {},
        h('td', {}, e.when), h('td', {}, tl('steps', e.step)), h('td', {}, tl('acts', e.action)), h('td', {}, e.actor),
        h('td', {}, h('span', { class: 'badge ' + (e.on_time ? 'b-ok' : 'b-late') }, e.on_time ? t('on_time') : t('late'))),
        h('td', {}, e.note || ''),
        h('td', {}, h('span', { class: 'badge ' + (e.verified ? 'b-ok' : 'b-bad'), title: e.hash }, e.verified ? '✔ ' + t('verified') : '✘ ' + t('not_verified')))))))));
  (main().querySelector('.actions button') || main()).focus({ preventScroll: true });
}

async function showSearch(initial) {
  const q = h('input', { type: 'search', id: 'search-q', value: initial || '', placeholder: t('search_hint') });
  const out = h('div', { id: 'search-results' });
  const run = async () => {
    const v = q.value.trim();
    if (!v) { out.replaceChildren(); return; }
    const j = await api('GET', '/api/search?q=' + encodeURIComponent(v));
    out.replaceChildren(j.dossiers.length ? dossierRows(j.dossiers) : h('p', { class: 'muted' }, t('search_none')));
  };
  let timer = null;
  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => run().catch((x) => toast(x.message, true)), 200); });
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') { clearTimeout(timer); run().catch((x) => toast(x.message, true)); } });
  main().replaceChildren(h('h1', {}, t('search_title')), h('div', { class: 'card' }, h('label', { for: 'search-q' }, t('search_hint')), q), out);
  q.focus();
  if (initial) await run();
}

async function showSync() {
  const box = h('div', { class: 'card', id: 'sync-box' });
  const render = (s) => {
    const pct = s.progress.total ? Math.round(100 * s.progress.done / s.progress.total) : (s.running ? 30 : 0);
    box.replaceChildren(h('dl', { class: 'kv' },
      h('dt', {}, t('server')), h('dd', {}, s.server || '—'),
      h('dt', {}, t('pending_events')), h('dd', { id: 'sync-pending' }, String(s.pending_events)),
      h('dt', {}, t('pending_att')), h('dd', {}, String(s.pending_attachments)),
      h('dt', {}, t('last_sync')), h('dd', { id: 'sync-last' }, s.last_sync || t('never'))),
      s.running ? [h('p', {}, t('syncing'), ' ', s.progress.phase, ' ', s.progress.total ? s.progress.done + '/' + s.progress.total : ''),
        h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': pct }, h('div', { style: 'width:' + pct + '%' }))] : null,
      s.error ? h('p', { class: 'error', id: 'sync-error' }, s.error) : null,
      !s.running && s.report && s.report.pushed !== undefined ? h('p', { class: 'muted' }, t('sync_ok') + ': ' + t('pushed') + ' ' + s.report.pushed + ', ' + t('pulled') + ' ' + s.report.pulled) : null,
      h('button', { type: 'button', id: 'sync-now', disabled: s.running || !s.server, onclick: start }, s.running ? t('syncing') : t('sync_now')));
  };
  const poll = async () => {
    const s = await api('GET', '/api/sync');
    if (location.hash !== '#/sync') return;
    render(s);
    clearTimeout(state.syncTimer);
    if (s.running) state.syncTimer = setTimeout(() => poll().catch(() => {}), 500);
  };
  const start = async () => {
    try { await api('POST', '/api/sync'); } catch (x) { toast(x.message, true); }
    await poll();
  };
  main().replaceChildren(h('h1', {}, t('sync_title')), box);
  await poll();
  $('#sync-now')?.focus();
}

function showRegister() {
  const today = new Date().toISOString().slice(0, 10);
  const from = h('input', { type: 'date', id: 'reg-from', value: today.slice(0, 8) + '01' });
  const to = h('input', { type: 'date', id: 'reg-to', value: today });
  main().replaceChildren(h('h1', {}, t('register_title')), h('form', { class: 'card', onsubmit: (e) => {
    e.preventDefault();
    window.open('/forms/07?from=' + from.value + '&to=' + to.value, '_blank');
  } }, h('label', { for: 'reg-from' }, t('from')), from, h('label', { for: 'reg-to' }, t('to')), to, h('p'), h('button', { type: 'submit', id: 'reg-open' }, t('open'))));
  from.focus();
}

async function route() {
  if (!state.officer) return;
  const hash = location.hash || '#/inbox';
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('on', hash.startsWith(a.getAttribute('href'))));
  clearTimeout(state.syncTimer);
  try {
    if (hash.startsWith('#/d/')) await showDossier(decodeURIComponent(hash.slice(4)));
    else if (hash.startsWith('#/intake')) await showIntake();
    else if (hash.startsWith('#/search')) await showSearch(decodeURIComponent(hash.split('?q=')[1] || ''));
    else if (hash.startsWith('#/sync')) await showSync();
    else if (hash.startsWith('#/register')) showRegister();
    else await showInbox();
  } catch (x) {
    if (state.officer) main().replaceChildren(h('p', { class: 'error card', role: 'alert' }, x.message));
  }
}

async function boot() {
  $('#lang').addEventListener('click', () => { lang = lang === 'vi' ? 'en' : 'vi'; localStorage.setItem('hoso.lang', lang); signedIn(); route(); });
  $('#signout').addEventListener('click', async () => {
    try { await api('POST', '/api/signout'); } catch { /* already locked */ }
    state.officer = null; state.csrf = ''; $('#toast').replaceChildren(); showSignin();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName) && state.officer) { e.preventDefault(); location.hash = '#/search'; }
    if (e.altKey && /^[1-5]$/.test(e.key) && state.officer) { e.preventDefault(); location.hash = ['#/inbox', '#/intake', '#/search', '#/sync', '#/register'][+e.key - 1]; }
  });
  window.addEventListener('hashchange', route);
  const s = await api('GET', '/api/session');
  if (!s.signed_in) return showSignin();
  state.csrf = s.csrf;
  state.officer = s.officer;
  signedIn();
  route();
}

boot().catch((x) => toast(x.message, true));
