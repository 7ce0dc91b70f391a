// casegrid console: a small single-page application over the public /api/v1.
// No framework and no build step: the gateway serves this file as it is.
'use strict';

const CONFIG = JSON.parse(document.getElementById('config').textContent);
const S = {
  lang: localStorage.getItem('casegrid.lang') || 'zh',
  me: null,
  csrf: null,
  sse: null,
  timers: [],
};

// ---------------------------------------------------------------- i18n
const I18N = {
  zh: {
    title: 'casegrid 12345 工作台', other: 'English', signout: '退出',
    signin: '登录', signin_demo: '演示身份（开发环境）', signin_demo_hint: '选择一个演示身份登录。',
    signin_jwt: '令牌登录', jwt: '令牌（JWT）', signin_failed: '登录失败',
    desk: '受理台', inbox: '收件箱', board: '督办看板', patrol: '巡查上报', cases: '案件查询',
    file_case: '受理来电', channel: '渠道', kind: '类型', category: '类别（可搜索）', grid: '网格（名称或编码）',
    grid_tree: '网格树', address: '地址', title_f: '标题', description: '诉求内容', reporter_name: '来电人姓名',
    reporter_phone: '来电人电话', urgency: '紧急程度', submit_file: '受理（Ctrl+Enter）', submit_patrol: '上报',
    attachments: '附件引用（每行一个）', filed: '已受理', similar: '相似在办案件（同类别同网格，近30天）',
    no_similar: '暂无相似案件', merge_into: '作为重复件并入此案', reply_at_intake: '直接答复',
    answer_text: '答复内容', decline: '不予受理', decline_reason: '不予受理原因', callbacks: '待回访',
    satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意', resolved_q: '问题已解决',
    reopen: '重办', reopen_reason: '重办原因', reveal: '查看个人信息', reveal_reason: '查看原因（将被审计）',
    revealed: '个人信息（已记录审计）', number: '编号', status: '状态', lead: '主办', assisting: '协办',
    signed: '已签收', summoned: '报到单位', role: '角色', sign_due: '签收时限', handle_due: '办理时限',
    due: '本单位时限', live: '实时', offline: '连接中断', overdue: '超期', left: '剩余', none: '无',
    case: '案件', timeline: '时间线', audit_ok: '哈希链校验通过', audit_bad: '哈希链断裂',
    events: '个事件', last_hash: '末哈希', as_of: '截至第几个事件', as_of_state: '当时状态', version: '版本',
    sign: '签收', return: '退单', return_reason: '退单原因', suggested_owner: '建议承办单位',
    request_extension: '申请延期', extension_reason: '延期原因', new_handle_due: '申请延至',
    record_progress: '记录进展', progress_text: '进展情况', reply: '办结答复', reply_result: '办理结果',
    reply_text: '答复内容', whistle: '吹哨', whistle_departments: '召集部门', whistle_reason: '吹哨事由',
    report_in: '报到', rate_report_in: '评价报到', rate_department: '被评价部门', score: '评分',
    comment: '评语', supervise: '督办', supervise_text: '督办意见', decide_extension: '延期审批',
    grant: '批准延期', deny: '不批准', annotate: '备注', note: '备注内容', actions: '可办理操作',
    no_actions: '当前无可办理操作', done: '已完成', not_found: '案件不存在或不在您的权限范围内',
    open_timeline: '时间线与哈希链校验', overdue_list: '超期案件', escalated_list: '已升级案件',
    figures: '考核指标', group_by: '分组', period: '周期', by_department: '按部门', by_street: '按街乡',
    by_category: '按类别', all_time: '全部', by_month: '按月', by_day: '按日',
    response: '响应率', resolution: '解决率', satisfaction: '满意率', completion: '办结率', unit: '单位',
    search: '搜索', search_cases: '关键词', filter_status: '状态筛选', empty: '无', filed_at: '受理时间',
    reporter: '来电人', deadlines: '时限', refresh: '刷新', required: '必填', not_matched: '未找到匹配项',
    matched: '已选', invalid: '请检查', level: '升级层级', back: '返回', open_case: '打开',
    ch_hotline: '12345热线', ch_suggestion_box: '建议征集箱', ch_grid_patrol: '网格巡查',
    k_inquiry: '咨询', k_help: '求助', k_complaint: '投诉', k_report: '举报', k_suggestion: '建议', k_dispute: '纠纷',
    u_normal: '一般', u_urgent: '紧急', u_critical: '特急',
    r_resolved: '已解决', r_explained: '已解释说明', r_unresolvable: '无法解决',
    d_in_litigation: '已进入诉讼程序', d_in_arbitration: '已进入仲裁程序', d_in_petition: '已进入信访程序',
    d_out_of_scope: '不属于受理范围', d_other: '其他',
    st_received: '已受理', st_dispatched: '已派单', st_in_progress: '办理中', st_suspended: '已中止',
    st_replied: '已答复', st_closed: '已结案', st_in_mediation: '调解中', st_referred: '已移送',
    st_merged: '已合并', st_declined: '不予受理', st_withdrawn: '已撤件',
    ro_lead: '主办', ro_assisting: '协办', ro_summoned: '报到', ro_whistling: '吹哨',
    csrf_refused: '请求被拒绝', category_h: '类别', grid_h: '网格', time_h: '时间', event_h: '事件', actor_h: '办理人', summary_h: '摘要',
  },
  en: {
    title: 'casegrid 12345 console', other: '中文', signout: 'Sign out',
    signin: 'Sign in', signin_demo: 'Demo principals (development)', signin_demo_hint: 'Pick a demo principal to sign in.',
    signin_jwt: 'Sign in with a token', jwt: 'Token (JWT)', signin_failed: 'Sign-in failed',
    desk: 'Desk', inbox: 'Inbox', board: 'Board', patrol: 'Patrol report', cases: 'Cases',
    file_case: 'File a call', channel: 'Channel', kind: 'Kind', category: 'Category (searchable)', grid: 'Grid (name or code)',
    grid_tree: 'Grid tree', address: 'Address', title_f: 'Title', description: 'Request', reporter_name: 'Caller name',
    reporter_phone: 'Caller phone', urgency: 'Urgency', submit_file: 'File (Ctrl+Enter)', submit_patrol: 'Report',
    attachments: 'Attachment references (one a line)', filed: 'Filed', similar: 'Similar open cases (same category and grid, last 30 days)',
    no_similar: 'No similar cases', merge_into: 'Merge as duplicate into this case', reply_at_intake: 'Answer at intake',
    answer_text: 'Answer', decline: 'Decline', decline_reason: 'Reason to decline', callbacks: 'Callback queue',
    satisfied: 'Satisfied', basically_satisfied: 'Basically satisfied', unsatisfied: 'Unsatisfied', resolved_q: 'Resolved',
    reopen: 'Reopen', reopen_reason: 'Reason to reopen', reveal: 'Reveal personal data', reveal_reason: 'Reason (audited)',
    revealed: 'Personal data (audited)', number: 'Number', status: 'Status', lead: 'Lead', assisting: 'Assisting',
    signed: 'Signed', summoned: 'Summoned', role: 'Role', sign_due: 'Sign by', handle_due: 'Handle by',
    due: 'Own deadline', live: 'Live', offline: 'Disconnected', overdue: 'Overdue', left: 'left', none: 'none',
    case: 'Case', timeline: 'Timeline', audit_ok: 'Hash chain verified', audit_bad: 'Hash chain broken',
    events: 'events', last_hash: 'last hash', as_of: 'As of event', as_of_state: 'State then', version: 'Version',
    sign: 'Sign', return: 'Return', return_reason: 'Reason to return', suggested_owner: 'Suggested owner',
    request_extension: 'Ask for an extension', extension_reason: 'Reason', new_handle_due: 'Extend to',
    record_progress: 'Record progress', progress_text: 'Progress', reply: 'Reply', reply_result: 'Result',
    reply_text: 'Reply text', whistle: 'Blow the whistle', whistle_departments: 'Departments summoned', whistle_reason: 'Reason',
    report_in: 'Report in', rate_report_in: 'Rate a report-in', rate_department: 'Department', score: 'Score',
    comment: 'Comment', supervise: 'Supervise (督办)', supervise_text: 'Instruction', decide_extension: 'Extension decision',
    grant: 'Grant', deny: 'Deny', annotate: 'Note', note: 'Note text', actions: 'Actions allowed now',
    no_actions: 'No action allowed now', done: 'Done', not_found: 'No such case, or it is outside your scope',
    open_timeline: 'Timeline and hash-chain check', overdue_list: 'Overdue cases', escalated_list: 'Escalated cases',
    figures: 'Figures', group_by: 'Group by', period: 'Period', by_department: 'Department', by_street: 'Street',
    by_category: 'Category', all_time: 'All time', by_month: 'Month', by_day: 'Day',
    response: 'Response', resolution: 'Resolution', satisfaction: 'Satisfaction', completion: 'Completion', unit: 'Unit',
    search: 'Search', search_cases: 'Words', filter_status: 'Status', empty: 'none', filed_at: 'Filed at',
    reporter: 'Caller', deadlines: 'Deadlines', refresh: 'Refresh', required: 'required', not_matched: 'no match',
    matched: 'chosen', invalid: 'Please check', level: 'Escalated to', back: 'Back', open_case: 'Open',
    ch_hotline: '12345 hotline', ch_suggestion_box: 'Suggestion box', ch_grid_patrol: 'Grid patrol',
    k_inquiry: 'Inquiry', k_help: 'Help', k_complaint: 'Complaint', k_report: 'Report', k_suggestion: 'Suggestion', k_dispute: 'Dispute',
    u_normal: 'Normal', u_urgent: 'Urgent', u_critical: 'Critical',
    r_resolved: 'Resolved', r_explained: 'Explained', r_unresolvable: 'Unresolvable',
    d_in_litigation: 'In litigation', d_in_arbitration: 'In arbitration', d_in_petition: 'In petition',
    d_out_of_scope: 'Out of scope', d_other: 'Other',
    st_received: 'Received', st_dispatched: 'Dispatched', st_in_progress: 'In progress', st_suspended: 'Suspended',
    st_replied: 'Replied', st_closed: 'Closed', st_in_mediation: 'In mediation', st_referred: 'Referred',
    st_merged: 'Merged', st_declined: 'Declined', st_withdrawn: 'Withdrawn',
    ro_lead: 'Lead', ro_assisting: 'Assisting', ro_summoned: 'Summoned', ro_whistling: 'Whistling',
    csrf_refused: 'Request refused', category_h: 'Category', grid_h: 'Grid', time_h: 'Time', event_h: 'Event', actor_h: 'By', summary_h: 'Summary',
  },
};
const t = (k) => (I18N[S.lang] && I18N[S.lang][k]) || I18N.zh[k] || k;

const CHANNELS = ['hotline', 'suggestion_box', 'grid_patrol'];
const KINDS = ['complaint', 'inquiry', 'help', 'report', 'suggestion', 'dispute'];
const URGENCIES = ['normal', 'urgent', 'critical'];
const RESULTS = ['resolved', 'explained', 'unresolvable'];
const DECLINES = ['out_of_scope', 'in_litigation', 'in_arbitration', 'in_petition', 'other'];
const OPEN = ['received', 'dispatched', 'in_progress', 'suspended'];
const EVENT_TYPES = ['CaseFiled', 'RepliedAtIntake', 'CaseDeclined', 'CaseDispatched', 'DispatchSigned',
  'DispatchReturned', 'ExtensionRequested', 'ExtensionDecided', 'ProgressRecorded', 'SuspensionRequested',
  'CaseSuspended', 'CaseResumed', 'CaseReplied', 'WhistleBlown', 'ReportedIn', 'ReportInRated',
  'DeadlineMissed', 'CaseEscalated', 'SupervisionIssued', 'CallbackRecorded', 'CaseReopened', 'CaseClosed',
  'MediationOpened', 'MediationSessionHeld', 'AgreementReached', 'MediationFailed', 'CaseReferred',
  'CaseMerged', 'NoteAdded', 'AttachmentAdded', 'CaseWithdrawn', 'PersonalDataRevealed', 'ErasureRequested', 'PersonalDataErased'];

// ---------------------------------------------------------------- helpers
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (sel, root) => (root || document).querySelector(sel);
const deptName = (id) => (CONFIG.departments.find((d) => d.id === id) || {}).name || id || '';
const gridName = (code) => (CONFIG.grids.find((g) => g.code === code) || {}).name || code || '';
const catName = (id) => {
  const c = CONFIG.categories.find((x) => x.id === id);
  return c ? (S.lang === 'zh' ? c.name : id.replace(/_/g, ' ')) : id;
};
const statusBadge = (s) => h('span', { class: 'badge st-' + s, 'data-status': s }, t('st_' + s));
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString(S.lang === 'zh' ? 'zh-CN' : 'en-GB') : '');
function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
function flash(text, kind) {
  const f = $('#flash');
  f.className = kind || 'ok';
  f.textContent = text;
}
function field(id, label, control, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint || null);
}
function select(id, values, labelOf, value) {
  return h('select', { id, name: id }, values.map((v) => h('option', { value: v, selected: v === value }, labelOf(v))));
}

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || ('HTTP ' + status));
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, body, headers) {
  const hs = Object.assign({ Accept: 'application/json' }, headers || {});
  if (body !== undefined) hs['Content-Type'] = 'application/json';
  if (method !== 'GET' && S.csrf) hs['X-CSRF-Token'] = S.csrf;
  const r = await fetch(path.startsWith('/') ? path : '/api/v1/' + path, {
    method, headers: hs, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (r.status === 401 && !path.startsWith('/console/')) { S.me = null; location.hash = '#/signin'; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}
async function act(id, action, body) {
  const r = await api('POST', `cases/${id}/actions/${action}`, body || {}, { 'Idempotency-Key': uuid() });
  S.acted = { id, version: r.version };
  return r;
}

// Resolves what a person typed to one item: "name (id)", the exact id or name, or the
// only item whose id or name contains it.
function resolve(value, items, key, label) {
  const v = (value || '').trim();
  if (!v) return null;
  const m = v.match(/\(([^()]+)\)\s*$/);
  if (m) { const x = items.find((i) => key(i) === m[1]); if (x) return x; }
  const exact = items.find((i) => key(i) === v || label(i) === v);
  if (exact) return exact;
  const low = v.toLowerCase();
  const hits = items.filter((i) => key(i).toLowerCase().includes(low) || label(i).includes(v));
  return hits.length === 1 ? hits[0] : null;
}
const resolveCategory = (v) => resolve(v, CONFIG.categories, (c) => c.id, (c) => c.name);
const resolveGrid = (v) => resolve(v, CONFIG.grids, (g) => g.code, (g) => g.name);

function countdown(iso) {
  if (!iso) return h('span', {}, '—');
  return h('span', { class: 'countdown', 'data-due': iso, title: fmtTime(iso) }, '');
}
function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.countdown')) {
    const ms = Date.parse(el.dataset.due) - now;
    const a = Math.abs(ms);
    const d = Math.floor(a / 86400000), hh = Math.floor((a % 86400000) / 3600000);
    const mm = Math.floor((a % 3600000) / 60000), ss = Math.floor((a % 60000) / 1000);
    const span = (d ? d + (S.lang === 'zh' ? '天' : 'd ') : '') + String(hh).padStart(2, '0') + ':' +
      String(mm).padStart(2, '0') + ':' + String(ss).padStart(2, '0');
    el.classList.toggle('overdue', ms < 0);
    el.textContent = ms < 0 ? `${t('overdue')} ${span}` : `${span} ${S.lang === 'zh' ? '' : t('left')}`.trim();
  }
}
function every(ms, f) { S.timers.push(setInterval(f, ms)); }

// ---------------------------------------------------------------- shell
function homeOf(me) {
  return ({ operator: '#/desk', grid_worker: '#/patrol', department: '#/inbox', street: '#/inbox',
    supervisor: '#/board' })[me.kind] || '#/cases';
}
function navOf(me) {
  return ({ operator: ['desk', 'cases'], grid_worker: ['patrol', 'cases'], department: ['inbox'],
    street: ['inbox'], supervisor: ['board', 'cases'] })[me.kind] || ['cases'];
}
function shell() {
  document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  $('#lang').textContent = t('other');
  $('#signout').textContent = t('signout');
  $('#signout').hidden = !S.me;
  $('#who').textContent = S.me ? `${S.me.name} · ${S.me.id}` : '';
  const nav = $('#nav');
  nav.replaceChildren(...(S.me ? navOf(S.me).map((p) => h('a', { href: '#/' + p, id: 'nav-' + p }, t(p))) : []));
}

const ROUTES = [
  [/^#\/signin$/, signinPage],
  [/^#\/desk$/, deskPage],
  [/^#\/patrol$/, patrolPage],
  [/^#\/inbox$/, inboxPage],
  [/^#\/board$/, boardPage],
  [/^#\/cases$/, casesPage],
  [/^#\/case\/([0-9a-fA-F-]{36})$/, casePage],
  [/^#\/timeline\/([0-9a-fA-F-]{36})$/, timelinePage],
];

async function render() {
  S.timers.forEach(clearInterval);
  S.timers = [];
  if (S.sse) { S.sse.close(); S.sse = null; }
  if (!S.me && location.hash !== '#/signin') { location.hash = '#/signin'; return; }
  if (S.me && (location.hash === '' || location.hash === '#/' || location.hash === '#/signin')) {
    location.hash = homeOf(S.me);
    return;
  }
  shell();
  const main = $('#main');
  main.replaceChildren();
  main.dataset.page = '';
  const route = ROUTES.find(([re]) => re.test(location.hash));
  if (!route) { location.hash = homeOf(S.me); return; }
  const args = location.hash.match(route[0]).slice(1);
  try {
    await route[1](main, ...args);
  } catch (e) {
    main.append(h('p', { class: 'error', role: 'alert' }, e.message));
  }
  every(1000, tickCountdowns);
  tickCountdowns();
}

// ---------------------------------------------------------------- sign-in
function signinPage(main) {
  main.dataset.page = 'signin';
  const signIn = async (token) => {
    try {
      const r = await api('POST', '/console/session', { token });
      S.me = r.principal;
      S.csrf = r.csrf;
      flash('');
      location.hash = homeOf(S.me);
    } catch (e) {
      flash(`${t('signin_failed')}: ${e.message}`, 'error');
    }
  };
  main.append(h('h1', {}, t('signin')));
  if (CONFIG.demo.length) {
    main.append(h('section', { class: 'card', id: 'demo' },
      h('h2', {}, t('signin_demo')), h('p', {}, t('signin_demo_hint')),
      h('ul', { class: 'demo' }, CONFIG.demo.map((p) => h('li', {},
        h('button', { type: 'button', 'data-token': p.token, onclick: () => signIn(p.token) },
          `${p.name}`, h('small', {}, ` ${p.kind} · ${p.id}`)))))));
  }
  const jwt = h('textarea', { id: 'jwt', name: 'jwt', rows: 3, autocomplete: 'off', spellcheck: 'false' });
  main.append(h('form', { class: 'card', id: 'jwt-form', onsubmit: (e) => { e.preventDefault(); signIn(jwt.value); } },
    h('h2', {}, t('signin_jwt')), field('jwt', t('jwt'), jwt),
    h('button', { type: 'submit' }, t('signin'))));
}

// ---------------------------------------------------------------- filing (desk and patrol)
function datalists() {
  return [
    h('datalist', { id: 'categories' }, CONFIG.categories.map((c) => h('option', { value: `${c.name} (${c.id})` }))),
    h('datalist', { id: 'grids' }, CONFIG.grids.map((g) => h('option', { value: `${g.name} (${g.code})` }))),
  ];
}
function gridTree(onPick) {
  const children = (code) => CONFIG.grids.filter((g) => g.code.split('.').length === code.split('.').length + 1 &&
    g.code.startsWith(code + '.'));
  const node = (g) => h('li', {}, h('button', { type: 'button', class: 'link', tabindex: '-1',
    onclick: () => onPick(g) }, `${g.name} ${g.code}`), (() => {
    const kids = children(g.code);
    return kids.length ? h('ul', {}, kids.map(node)) : null;
  })());
  const roots = CONFIG.grids.filter((g) => !g.code.includes('.'));
  return h('details', { class: 'tree' }, h('summary', { tabindex: '-1' }, t('grid_tree')), h('ul', {}, roots.map(node)));
}
// A field whose text resolves to one category or grid, saying which as one types.
function lookupField(id, label, list, resolver, show, value) {
  const input = h('input', { id, name: id, list, autocomplete: 'off', required: true, value: value || '',
    'aria-describedby': id + '-match' });
  const out = h('output', { id: id + '-match', for: id, class: 'match' });
  const update = () => {
    const x = resolver(input.value);
    out.textContent = input.value.trim() ? (x ? `✓ ${show(x)}` : t('not_matched')) : '';
    out.classList.toggle('bad', !!input.value.trim() && !x);
    input.setAttribute('aria-invalid', input.value.trim() && !x ? 'true' : 'false');
  };
  input.addEventListener('input', update);
  update();
  return { input, out, update, el: field(id, label, input, out) };
}

function filingForm({ patrol }) {
  const key = { value: uuid() };
  const channel = select('f-channel', CHANNELS, (v) => t('ch_' + v), patrol ? 'grid_patrol' : 'hotline');
  const kind = select('f-kind', KINDS, (v) => t('k_' + v), patrol ? 'report' : 'complaint');
  const category = lookupField('f-category', t('category'), 'categories', resolveCategory, (c) => `${c.name} · ${c.id}`);
  const grid = lookupField('f-grid', t('grid'), 'grids', resolveGrid, (g) => `${g.name} · ${g.code}`,
    patrol && S.me.scope ? `${gridName(S.me.scope)} (${S.me.scope})` : '');
  const address = h('input', { id: 'f-address', name: 'f-address', autocomplete: 'off' });
  const title = h('input', { id: 'f-title', name: 'f-title', required: true, autocomplete: 'off' });
  const description = h('textarea', { id: 'f-description', name: 'f-description', rows: 3 });
  const name = h('input', { id: 'f-reporter-name', name: 'f-reporter-name', autocomplete: 'off' });
  const phone = h('input', { id: 'f-reporter-phone', name: 'f-reporter-phone', inputmode: 'tel', autocomplete: 'off' });
  const attachments = h('textarea', { id: 'f-attachments', name: 'f-attachments', rows: 2 });
  const urgency = select('f-urgency', URGENCIES, (v) => t('u_' + v), 'normal');
  const submit = h('button', { type: 'submit', id: 'f-submit' }, patrol ? t('submit_patrol') : t('submit_file'));
  const tree = gridTree((g) => { grid.input.value = `${g.name} (${g.code})`; grid.update(); grid.input.focus(); similar(); });
  const form = h('form', { id: 'file-form', class: 'card filing', novalidate: true },
    h('h2', {}, patrol ? t('patrol') : t('file_case')),
    patrol ? null : field('f-channel', t('channel'), channel),
    field('f-kind', t('kind'), kind),
    category.el, grid.el, tree,
    field('f-address', t('address'), address),
    field('f-title', t('title_f'), title),
    h('div', { class: 'wide' }, field('f-description', t('description'), description)),
    patrol ? h('div', { class: 'wide' }, field('f-attachments', t('attachments'), attachments)) : null,
    patrol ? null : field('f-reporter-name', t('reporter_name'), name),
    patrol ? null : field('f-reporter-phone', t('reporter_phone'), phone),
    field('f-urgency', t('urgency'), urgency),
    h('div', { class: 'buttons' }, submit));
  const similarBox = h('section', { id: 'similar', class: 'card', 'aria-live': 'polite' }, h('h2', {}, t('similar')));
  const filedBox = h('section', { id: 'filed', class: 'card', hidden: true, 'aria-live': 'polite' });
  let filedId = null;
  let timer = null;
  async function similar() {
    const c = resolveCategory(category.input.value);
    const list = h('ul', { id: 'similar-list' });
    similarBox.replaceChildren(h('h2', {}, t('similar')), list);
    if (!c) { list.append(h('li', { class: 'muted' }, t('no_similar'))); return; }
    const g = resolveGrid(grid.input.value);
    const from = new Date(Date.now() - 30 * 86400000).toISOString().replace(/\.\d+Z$/, 'Z');
    const q = new URLSearchParams({ category: c.id, status: OPEN.join(','), filed_from: from, limit: '5' });
    if (g) q.set('grid_prefix', g.code);
    try {
      const page = await api('GET', 'cases?' + q);
      const items = page.items.filter((x) => x.id !== filedId);
      if (!items.length) list.append(h('li', { class: 'muted' }, t('no_similar')));
      for (const x of items) {
        list.append(h('li', { 'data-case': x.id },
          h('a', { href: '#/case/' + x.id }, x.number), ' ', x.title, ' ', statusBadge(x.status), ' ',
          h('small', {}, gridName(x.grid)),
          patrol ? null : h('button', { type: 'button', class: 'merge', disabled: !filedId,
            onclick: async () => {
              try { await act(filedId, 'merge', { into: x.id }); flash(`${t('done')}: ${t('merge_into')} ${x.number}`); } catch (e) { flash(e.message, 'error'); }
            } }, t('merge_into'))));
      }
    } catch (e) { list.append(h('li', { class: 'error' }, e.message)); }
  }
  const soon = () => { clearTimeout(timer); timer = setTimeout(similar, 250); };
  [category.input, grid.input, title].forEach((i) => i.addEventListener('input', soon));
  form.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); } });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const c = resolveCategory(category.input.value), g = resolveGrid(grid.input.value);
    const bad = [];
    if (!c) bad.push(category.input);
    if (!g) bad.push(grid.input);
    if (!title.value.trim()) bad.push(title);
    for (const i of [category.input, grid.input, title]) i.setAttribute('aria-invalid', bad.includes(i) ? 'true' : 'false');
    if (bad.length) {
      flash(`${t('invalid')}: ${bad.map((i) => $(`label[for="${i.id}"]`).textContent).join('、')}`, 'error');
      bad[0].focus();
      return;
    }
    const body = { channel: patrol ? 'grid_patrol' : channel.value, kind: kind.value, category: c.id,
      urgency: urgency.value, title: title.value.trim(), description: description.value.trim(),
      location: { grid: g.code } };
    if (address.value.trim()) body.location.address = address.value.trim();
    if (!patrol && (name.value.trim() || phone.value.trim())) {
      body.reporter = {};
      if (name.value.trim()) body.reporter.name = name.value.trim();
      if (phone.value.trim()) body.reporter.phone = phone.value.trim();
    }
    if (patrol) {
      body.source = { patroller: S.me.id };
      const refs = attachments.value.split('\n').map((s) => s.trim()).filter(Boolean);
      if (refs.length) body.source.attachments = refs;
    }
    submit.disabled = true;
    try {
      const r = await api('POST', 'cases', body, { 'Idempotency-Key': key.value });
      filedId = r.id;
      key.value = uuid();
      flash(`${t('filed')} ${r.number}`);
      await showFiled(filedBox, r, patrol);
      // The similar cases of what was just filed stay, now offered to merge it into.
      await similar();
      form.reset();
      channel.value = patrol ? 'grid_patrol' : 'hotline';
      category.update(); grid.update();
    } catch (err) {
      flash(err.message, 'error');
    } finally {
      submit.disabled = false;
    }
  });
  similar();
  return { form, similarBox, filedBox, focus: () => (patrol ? kind : channel).focus() };
}

async function getCaseEventually(id) {
  for (let i = 0; i < 20; i++) {
    try { return await api('GET', 'cases/' + id); } catch (e) { if (e.status !== 404) throw e; }
    await new Promise((r) => setTimeout(r, 250));
  }
  return api('GET', 'cases/' + id);
}

async function showFiled(box, r, patrol) {
  box.hidden = false;
  const c = await getCaseEventually(r.id);
  const answer = h('textarea', { id: 'answer-text', rows: 2 });
  const reason = select('decline-reason', DECLINES, (v) => t('d_' + v), 'out_of_scope');
  box.replaceChildren(
    h('h2', {}, t('filed'), ' ', h('a', { id: 'filed-number', href: '#/case/' + r.id }, r.number), ' ', statusBadge(c.status)),
    h('dl', { class: 'facts' },
      h('dt', {}, t('category_h')), h('dd', {}, catName(c.category)),
      h('dt', {}, t('grid_h')), h('dd', {}, gridName(c.grid)),
      h('dt', {}, t('reporter')), h('dd', { id: 'filed-reporter' }, [c.reporter_name, c.reporter_phone].filter(Boolean).join(' ') || '—'),
      h('dt', {}, t('lead')), h('dd', {}, deptName(c.lead) || '—')),
    patrol ? null : h('form', { class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      try { await act(r.id, 'reply_at_intake', { text: answer.value }); flash(t('done') + ': ' + t('reply_at_intake')); } catch (err) { flash(err.message, 'error'); }
    } }, field('answer-text', t('answer_text'), answer), h('button', { type: 'submit' }, t('reply_at_intake'))),
    patrol ? null : h('form', { class: 'inline', onsubmit: async (e) => {
      e.preventDefault();
      try { await act(r.id, 'decline', { reason: reason.value }); flash(t('done') + ': ' + t('decline')); } catch (err) { flash(err.message, 'error'); }
    } }, field('decline-reason', t('decline_reason'), reason), h('button', { type: 'submit' }, t('decline'))));
}

// ---------------------------------------------------------------- desk
async function deskPage(main) {
  main.dataset.page = 'desk';
  const f = filingForm({ patrol: false });
  const queue = h('section', { id: 'callbacks', class: 'card' });
  main.append(h('h1', {}, t('desk')), ...datalists(),
    h('div', { class: 'cols' }, f.form, h('div', {}, f.similarBox, f.filedBox)), queue);
  f.focus();
  await loadCallbacks(queue);
  // Replied cases join the callback queue as they are replied, without a reload.
  const live = h('span', { id: 'live', class: 'live off' }, t('offline'));
  main.querySelector('h1').append(' ', live);
  follow(live, async (ev) => {
    if (!['CaseReplied', 'CallbackRecorded', 'CaseReopened', 'CaseClosed', 'RepliedAtIntake'].includes(ev.type)) return;
    for (let i = 0; i < 6; i++) {
      await loadCallbacks(queue);
      const listed = !!queue.querySelector(`tr[data-case="${ev.case_id}"]`);
      if (listed === (ev.type === 'CaseReplied')) return;
      await new Promise((r) => setTimeout(r, 250 * (i + 1)));
    }
  });
}

async function loadCallbacks(box) {
  const page = await api('GET', 'cases?status=replied&limit=50');
  const rows = page.items.map((c) => {
    const resolved = h('input', { type: 'checkbox', id: 'resolved-' + c.id, checked: c.reply_result === 'resolved' });
    const reason = h('input', { id: 'reopen-' + c.id, autocomplete: 'off' });
    const callback = (satisfaction) => async () => {
      try {
        await act(c.id, 'callback', { satisfaction, resolved: resolved.checked });
        flash(`${t('done')}: ${c.number} ${t(satisfaction)}`);
        setTimeout(() => loadCallbacks(box), 300);
      } catch (e) { flash(e.message, 'error'); }
    };
    return h('tr', { 'data-case': c.id },
      h('td', {}, h('a', { href: '#/case/' + c.id }, c.number)), h('td', {}, c.title),
      h('td', {}, deptName(c.lead)), h('td', {}, c.reply_result ? t('r_' + c.reply_result) : ''),
      h('td', {}, h('label', { for: resolved.id }, resolved, ' ', t('resolved_q'))),
      h('td', { class: 'buttons' }, ['satisfied', 'basically_satisfied', 'unsatisfied'].map((s) =>
        h('button', { type: 'button', class: 'cb-' + s, onclick: callback(s) }, t(s)))),
      h('td', {}, h('label', { for: reason.id, class: 'sr' }, t('reopen_reason')), reason,
        h('button', { type: 'button', class: 'reopen', onclick: async () => {
          try { await act(c.id, 'reopen', { reason: reason.value || t('unsatisfied') }); flash(`${t('done')}: ${t('reopen')} ${c.number}`); setTimeout(() => loadCallbacks(box), 300); } catch (e) { flash(e.message, 'error'); }
        } }, t('reopen'))));
  });
  box.replaceChildren(h('h2', {}, t('callbacks'), ' ', h('button', { type: 'button', class: 'link', id: 'callbacks-refresh', onclick: () => loadCallbacks(box) }, t('refresh'))),
    rows.length ? h('table', { id: 'callback-table' }, h('thead', {}, h('tr', {},
      [t('number'), t('title_f'), t('lead'), t('reply_result'), t('resolved_q'), t('satisfaction'), t('reopen')].map((x) => h('th', {}, x)))),
    h('tbody', {}, rows)) : h('p', { class: 'muted', id: 'callback-empty' }, t('empty')));
}

// ---------------------------------------------------------------- patrol
async function patrolPage(main) {
  main.dataset.page = 'patrol';
  const f = filingForm({ patrol: true });
  main.append(h('h1', {}, t('patrol')), ...datalists(), f.form, f.filedBox, f.similarBox);
  f.focus();
}

// ---------------------------------------------------------------- inbox
async function inboxPage(main) {
  main.dataset.page = 'inbox';
  const live = h('span', { id: 'live', class: 'live off' }, t('offline'));
  const table = h('div', { id: 'inbox' });
  main.append(h('h1', {}, t('inbox'), ' ', live), table);
  const load = async () => {
    const inbox = await api('GET', 'inbox?limit=200');
    const rows = inbox.items.map((c) => h('tr', { 'data-case': c.id, class: 'urg-' + c.urgency },
      h('td', {}, h('a', { href: '#/case/' + c.id }, c.number)), h('td', {}, c.title), h('td', {}, catName(c.category)),
      h('td', {}, t('u_' + c.urgency)), h('td', {}, t('ro_' + c.role)), h('td', {}, statusBadge(c.status)),
      h('td', { class: 'sign-due' }, c.signed ? t('signed') : countdown(c.sign_due)),
      h('td', { class: 'handle-due' }, countdown(c.handle_due))));
    table.replaceChildren(rows.length ? h('table', { id: 'inbox-table' }, h('thead', {}, h('tr', {},
      [t('number'), t('title_f'), t('category_h'), t('urgency'), t('role'), t('status'), t('sign_due'), t('handle_due')].map((x) => h('th', {}, x)))),
    h('tbody', {}, rows)) : h('p', { class: 'muted' }, t('empty')));
    tickCountdowns();
    return inbox.items;
  };
  await load();
  follow(live, async (ev) => {
    // The feed reads the log; the inbox is a read model a moment behind it.
    for (let i = 0; i < 8; i++) {
      const items = await load();
      const it = items.find((x) => x.id === ev.case_id);
      if (!it || it.version >= ev.version) { if (it || i > 2) return; }
      await new Promise((r) => setTimeout(r, 250 * (i + 1)));
    }
  });
}

// Follows the caller's scoped event feed; `onEvent` gets each envelope.
function follow(indicator, onEvent) {
  const es = new EventSource('/api/v1/events');
  S.sse = es;
  es.onopen = () => { indicator.textContent = t('live'); indicator.className = 'live on'; };
  es.onerror = () => { indicator.textContent = t('offline'); indicator.className = 'live off'; };
  let chain = Promise.resolve();
  const handle = (e) => {
    let ev = {};
    try { ev = JSON.parse(e.data); } catch (_) { return; }
    chain = chain.then(() => onEvent(ev)).catch(() => {});
  };
  EVENT_TYPES.forEach((ty) => es.addEventListener(ty, handle));
  es.onmessage = handle;
}

// ---------------------------------------------------------------- case page
function allowedActions(c, timeline, me) {
  const a = [];
  const openish = ['dispatched', 'in_progress'].includes(c.status);
  const mine = c.lead === me.id || (c.assisting || []).includes(me.id);
  const signed = (c.signed || []).includes(me.id);
  const did = (type) => timeline.some((e) => e.type === type && e.actor && e.actor.id === me.id);
  if (me.kind === 'department' || me.kind === 'street') {
    if (mine && openish && !signed) a.push('sign');
    if (c.lead === me.id && openish) a.push('return');
    if (c.lead === me.id && c.status === 'in_progress') a.push('request_extension');
    if (mine && c.status === 'in_progress') a.push('record_progress');
    if (c.lead === me.id && c.status === 'in_progress') a.push('reply');
    if ((c.summoned || []).includes(me.id) && !did('ReportedIn')) a.push('report_in');
    if (me.kind === 'street' && OPEN.includes(c.status)) a.push('whistle');
    if (me.kind === 'street' && (c.whistled_by || []).includes(me.id) && (c.summoned || []).length) a.push('rate_report_in');
  }
  if (me.kind === 'operator') {
    if (['received', 'dispatched'].includes(c.status) && !(c.signed || []).length) a.push('reply_at_intake', 'decline');
    if (c.status === 'replied') a.push('callback');
    if (['replied', 'closed'].includes(c.status)) a.push('reopen');
  }
  if (me.kind === 'supervisor') {
    if (OPEN.includes(c.status)) a.push('supervise');
    const req = timeline.filter((e) => e.type === 'ExtensionRequested').length;
    const dec = timeline.filter((e) => e.type === 'ExtensionDecided').length;
    if (req > dec) a.push('decide_extension');
    if (['replied', 'closed'].includes(c.status)) a.push('reopen');
  }
  if (['operator', 'supervisor', 'department', 'street', 'grid_worker'].includes(me.kind) && !['merged'].includes(c.status)) a.push('annotate');
  return a;
}

// One small form per action: its fields, then how to make the body.
function actionForm(c, action, done) {
  const ids = (n) => `a-${action}-${n}`;
  const text = (n, label, rows) => { const el = h(rows ? 'textarea' : 'input', { id: ids(n), rows: rows || null, autocomplete: 'off' }); return [el, field(ids(n), label, el)]; };
  let fields = [];
  let body = () => ({});
  let buttons = [h('button', { type: 'submit', class: 'do-' + action }, t(action))];
  switch (action) {
    case 'sign': case 'report_in': break;
    case 'return': {
      const [r, rf] = text('reason', t('return_reason'));
      const owner = select(ids('owner'), [''].concat(CONFIG.departments.map((d) => d.id).filter((d) => d !== S.me.id)), (v) => (v ? deptName(v) : '—'), '');
      fields = [rf, field(ids('owner'), t('suggested_owner'), owner)];
      body = () => Object.assign({ reason: r.value }, owner.value ? { suggested_owner: owner.value } : {});
      break;
    }
    case 'request_extension': {
      const [r, rf] = text('reason', t('extension_reason'));
      const until = h('input', { id: ids('until'), type: 'datetime-local' });
      fields = [rf, field(ids('until'), t('new_handle_due'), until)];
      body = () => ({ reason: r.value, handle_due: until.value ? new Date(until.value).toISOString().replace(/\.\d+Z$/, 'Z') : '' });
      break;
    }
    case 'record_progress': { const [x, xf] = text('text', t('progress_text'), 2); fields = [xf]; body = () => ({ text: x.value }); break; }
    case 'reply': {
      const result = select(ids('result'), RESULTS, (v) => t('r_' + v), 'resolved');
      const [x, xf] = text('text', t('reply_text'), 3);
      fields = [field(ids('result'), t('reply_result'), result), xf];
      body = () => ({ result: result.value, text: x.value });
      break;
    }
    case 'whistle': {
      const deps = h('select', { id: ids('departments'), multiple: true, size: 4 },
        CONFIG.departments.filter((d) => d.id !== S.me.id).map((d) => h('option', { value: d.id }, d.name)));
      const [r, rf] = text('reason', t('whistle_reason'));
      fields = [field(ids('departments'), t('whistle_departments'), deps), rf];
      body = () => ({ departments: Array.from(deps.selectedOptions, (o) => o.value), reason: r.value });
      break;
    }
    case 'rate_report_in': {
      const dep = select(ids('department'), c.summoned || [], deptName, (c.summoned || [])[0]);
      const score = select(ids('score'), ['5', '4', '3', '2', '1'], (v) => v, '5');
      const [cm, cmf] = text('comment', t('comment'));
      fields = [field(ids('department'), t('rate_department'), dep), field(ids('score'), t('score'), score), cmf];
      body = () => ({ ratings: [Object.assign({ department: dep.value, score: Number(score.value) }, cm.value ? { comment: cm.value } : {})] });
      break;
    }
    case 'supervise': { const [x, xf] = text('text', t('supervise_text')); fields = [xf]; body = () => ({ text: x.value }); break; }
    case 'decide_extension': {
      fields = [];
      buttons = [h('button', { type: 'submit', class: 'do-grant', value: 'true' }, t('grant')),
        h('button', { type: 'submit', class: 'do-deny', value: 'false' }, t('deny'))];
      body = (e) => ({ granted: e.submitter && e.submitter.value === 'true' });
      break;
    }
    case 'reply_at_intake': { const [x, xf] = text('text', t('answer_text'), 2); fields = [xf]; body = () => ({ text: x.value }); break; }
    case 'decline': {
      const r = select(ids('reason'), DECLINES, (v) => t('d_' + v), 'out_of_scope');
      fields = [field(ids('reason'), t('decline_reason'), r)];
      body = () => ({ reason: r.value });
      break;
    }
    case 'callback': {
      const resolved = h('input', { type: 'checkbox', id: ids('resolved'), checked: c.reply_result === 'resolved' });
      fields = [h('div', { class: 'field' }, h('label', { for: resolved.id }, resolved, ' ', t('resolved_q')))];
      buttons = ['satisfied', 'basically_satisfied', 'unsatisfied'].map((s) => h('button', { type: 'submit', value: s, class: 'cb-' + s }, t(s)));
      body = (e) => ({ satisfaction: e.submitter.value, resolved: resolved.checked });
      break;
    }
    case 'reopen': { const [x, xf] = text('reason', t('reopen_reason')); fields = [xf]; body = () => ({ reason: x.value }); break; }
    case 'annotate': { const [x, xf] = text('text', t('note')); fields = [xf]; body = () => ({ text: x.value }); break; }
    default: break;
  }
  return h('form', { class: 'action', id: 'action-' + action, onsubmit: async (e) => {
    e.preventDefault();
    try { await act(c.id, action, body(e)); flash(`${t('done')}: ${t(action)}`); done(); } catch (err) { flash(err.message, 'error'); }
  } }, h('h3', {}, t(action)), fields, h('div', { class: 'buttons' }, buttons));
}

async function casePage(main, id) {
  main.dataset.page = 'case';
  let c, tl;
  try {
    // After an action, the read model may be a moment behind the answer's version.
    const want = S.acted && S.acted.id === id ? S.acted.version : 0;
    for (let i = 0; ; i++) {
      [c, tl] = await Promise.all([api('GET', 'cases/' + id), api('GET', `cases/${id}/timeline`)]);
      if (c.version >= want && tl.events.length >= want || i >= 15) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    if (e.status === 404) { main.append(h('h1', {}, t('case')), h('p', { class: 'error', id: 'not-found', role: 'alert' }, t('not_found'))); return; }
    throw e;
  }
  const reload = () => render();
  const actions = allowedActions(c, tl.events, S.me);
  const deadlines = (c.deadlines || []).map((d) => h('li', {}, `${d.kind} · ${deptName(d.unit)} · `, countdown(d.due), d.missed ? h('strong', { class: 'overdue' }, ' ' + t('overdue')) : null));
  main.append(
    h('h1', {}, h('span', { id: 'case-number' }, c.number), ' ', c.title, ' ', statusBadge(c.status)),
    h('div', { class: 'cols' },
      h('section', { class: 'card' }, h('dl', { class: 'facts', id: 'case-facts' },
        h('dt', {}, t('category_h')), h('dd', {}, catName(c.category)),
        h('dt', {}, t('kind')), h('dd', {}, t('k_' + c.kind)),
        h('dt', {}, t('urgency')), h('dd', {}, t('u_' + c.urgency)),
        h('dt', {}, t('grid_h')), h('dd', {}, `${gridName(c.grid)} ${c.grid || ''}`),
        h('dt', {}, t('address')), h('dd', {}, c.address || '—'),
        h('dt', {}, t('reporter')), h('dd', { id: 'case-reporter' }, [c.reporter_name, c.reporter_phone].filter(Boolean).join(' ') || '—'),
        h('dt', {}, t('description')), h('dd', {}, c.description || '—'),
        h('dt', {}, t('lead')), h('dd', {}, deptName(c.lead) || '—'),
        h('dt', {}, t('assisting')), h('dd', {}, (c.assisting || []).map(deptName).join('、') || '—'),
        h('dt', {}, t('signed')), h('dd', { id: 'case-signed' }, (c.signed || []).map(deptName).join('、') || '—'),
        h('dt', {}, t('summoned')), h('dd', {}, (c.summoned || []).map(deptName).join('、') || '—'),
        c.level ? [h('dt', {}, t('level')), h('dd', {}, c.level)] : null,
        h('dt', {}, t('deadlines')), h('dd', {}, deadlines.length ? h('ul', {}, deadlines) : '—')),
      h('p', {}, h('a', { href: '#/timeline/' + c.id, id: 'open-timeline' }, t('open_timeline')))),
      h('section', { class: 'card', id: 'actions' }, h('h2', {}, t('actions')),
        actions.length ? actions.map((a) => actionForm(c, a, reload)) : h('p', { class: 'muted' }, t('no_actions')),
        ['operator', 'supervisor'].includes(S.me.kind) ? revealForm(c) : null)),
    h('section', { class: 'card' }, h('h2', {}, t('timeline')), timelineList(tl.events)));
}

function revealForm(c) {
  const reason = h('input', { id: 'reveal-reason', autocomplete: 'off', required: true });
  const out = h('div', { id: 'revealed' });
  return h('form', { class: 'action', id: 'action-reveal', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await act(c.id, 'reveal', { reason: reason.value });
      const pd = r.personal_data || {};
      out.replaceChildren(h('h3', {}, t('revealed')), h('dl', { class: 'facts' },
        Object.entries(pd).map(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))])));
    } catch (err) { flash(err.message, 'error'); }
  } }, h('h3', {}, t('reveal')), field('reveal-reason', t('reveal_reason'), reason),
  h('div', { class: 'buttons' }, h('button', { type: 'submit' }, t('reveal'))), out);
}

function timelineList(events) {
  return h('ol', { class: 'timeline', id: 'timeline' }, events.map((e) => h('li', { 'data-version': e.version, 'data-type': e.type },
    h('time', { datetime: e.occurred_at }, fmtTime(e.occurred_at)), ' ', h('strong', {}, e.actor_name), ' ',
    h('span', {}, e.summary))));
}

// ---------------------------------------------------------------- timeline with audit and as-of
async function timelinePage(main, id) {
  main.dataset.page = 'timeline';
  let tl, audit;
  try {
    [tl, audit] = await Promise.all([api('GET', `cases/${id}/timeline`), api('GET', `cases/${id}/audit`)]);
  } catch (e) {
    if (e.status === 404) { main.append(h('p', { class: 'error', id: 'not-found', role: 'alert' }, t('not_found'))); return; }
    throw e;
  }
  const n = tl.events.length;
  const banner = audit.verified
    ? h('p', { id: 'audit', class: 'audit ok', 'data-verified': 'true' }, `✓ ${t('audit_ok')}: ${audit.events} ${t('events')}, ${t('last_hash')} ${(audit.last_hash || '').slice(0, 16)}…`)
    : h('p', { id: 'audit', class: 'audit bad', 'data-verified': 'false', role: 'alert' }, `✗ ${t('audit_bad')}: ${JSON.stringify(audit.first_break)}`);
  const slider = h('input', { type: 'range', id: 'asof', min: 1, max: n, value: n, step: 1 });
  const out = h('output', { id: 'asof-out', for: 'asof' });
  const table = h('table', { id: 'chain' }, h('thead', {}, h('tr', {},
    [t('version'), t('time_h'), t('event_h'), t('actor_h'), t('summary_h'), 'prev_hash', 'hash'].map((x) => h('th', {}, x)))),
  h('tbody', {}, tl.events.map((e) => h('tr', { 'data-version': e.version },
    h('td', {}, e.version), h('td', {}, fmtTime(e.occurred_at)), h('td', {}, e.type), h('td', {}, e.actor_name),
    h('td', {}, e.summary), h('td', { class: 'hash' }, e.prev_hash.slice(0, 10)), h('td', { class: 'hash' }, e.hash.slice(0, 10))))));
  let seq = 0;
  const show = async () => {
    const v = Number(slider.value);
    const e = tl.events[v - 1];
    for (const tr of table.querySelectorAll('tbody tr')) tr.classList.toggle('future', Number(tr.dataset.version) > v);
    const mine = ++seq;
    try {
      const past = await api('GET', `cases/${id}?as_of=${encodeURIComponent(e.occurred_at)}`);
      if (mine !== seq) return;
      out.dataset.version = past.version;
      out.dataset.status = past.status;
      const st = past.state || {};
      out.replaceChildren(`${t('version')} ${past.version} · ${fmtTime(past.as_of)} · ${t('status')}: `, statusBadge(past.status),
        st.lead ? ` · ${t('lead')}: ${deptName(typeof st.lead === 'string' ? st.lead : (st.lead.department || st.lead.id || ''))}` : '');
    } catch (err) { out.textContent = err.message; }
  };
  slider.addEventListener('input', show);
  main.append(h('h1', {}, t('timeline'), ' ', h('a', { href: '#/case/' + id }, tl.number)), banner,
    h('section', { class: 'card' }, field('asof', `${t('as_of')} (1–${n})`, slider), h('p', {}, t('as_of_state'), ': ', out)),
    h('section', { class: 'card scroll' }, table));
  await show();
}

// ---------------------------------------------------------------- board
async function boardPage(main) {
  main.dataset.page = 'board';
  const overdue = h('section', { class: 'card', id: 'overdue' });
  const escalated = h('section', { class: 'card', id: 'escalated' });
  const figures = h('section', { class: 'card', id: 'figures' });
  main.append(h('h1', {}, t('board')), h('div', { class: 'cols' }, overdue, escalated), figures);
  const caseRows = (items) => items.length ? h('table', {}, h('tbody', {}, items.map((c) => h('tr', { 'data-case': c.id, class: 'overdue-row' },
    h('td', {}, h('a', { href: '#/case/' + c.id }, c.number)), h('td', {}, c.title), h('td', {}, deptName(c.lead)),
    h('td', {}, statusBadge(c.status)), h('td', {}, countdown(c.handle_due)))))) : h('p', { class: 'muted' }, t('empty'));
  const [od, open] = await Promise.all([api('GET', 'overdue?limit=100'), api('GET', 'cases?status=dispatched,in_progress,suspended&limit=200')]);
  overdue.append(h('h2', {}, t('overdue_list'), ` (${od.items.length})`), caseRows(od.items));
  const esc = open.items.filter((c) => c.level);
  escalated.append(h('h2', {}, t('escalated_list'), ` (${esc.length})`), caseRows(esc));
  const groupBy = select('fig-group', ['department', 'street', 'category'], (v) => t('by_' + v), 'department');
  const period = select('fig-period', ['all', 'month', 'day'], (v) => t(v === 'all' ? 'all_time' : 'by_' + v), 'all');
  const chart = h('div', { id: 'chart' });
  const tableBox = h('div', { id: 'figures-box', class: 'scroll' });
  figures.append(h('h2', {}, t('figures')), h('div', { class: 'inline' }, field('fig-group', t('group_by'), groupBy), field('fig-period', t('period'), period)), chart, tableBox);
  const load = async () => {
    const view = await api('GET', `stats?group_by=${groupBy.value}&period=${period.value}`);
    const label = (k) => (groupBy.value === 'department' ? deptName(k) : groupBy.value === 'street' ? gridName(k) : catName(k)) || '—';
    chart.replaceChildren(barChart(view.rows, label));
    const rate = (r) => `${r.count}/${r.of}` + (r.permille === null || r.permille === undefined ? '' : ` (${(r.permille / 10).toFixed(1)}%)`);
    tableBox.replaceChildren(h('table', { id: 'figures-table' }, h('thead', {}, h('tr', {},
      [t('unit'), t('period'), t('response'), t('resolution'), t('satisfaction'), t('completion')].map((x) => h('th', {}, x)))),
    h('tbody', {}, view.rows.map((r) => h('tr', { 'data-key': r.key || '', 'data-period': r.period },
      h('td', {}, label(r.key)), h('td', {}, r.period),
      h('td', { class: 'rate-response' }, rate(r.response)), h('td', { class: 'rate-resolution' }, rate(r.resolution)),
      h('td', { class: 'rate-satisfaction' }, rate(r.satisfaction)), h('td', { class: 'rate-completion' }, rate(r.completion)))))));
  };
  groupBy.addEventListener('change', load);
  period.addEventListener('change', load);
  await load();
}

const RATES = ['response', 'resolution', 'satisfaction', 'completion'];
function barChart(rows, label) {
  const NS = 'http://www.w3.org/2000/svg';
  const s = (tag, attrs, ...kids) => { const el = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); kids.forEach((k) => el.append(k instanceof Node ? k : document.createTextNode(String(k)))); return el; };
  const rowH = 4 * 12 + 14, left = 150, width = 620;
  const svg = s('svg', { viewBox: `0 0 ${left + width + 60} ${Math.max(1, rows.length) * rowH + 30}`, role: 'img', 'aria-label': t('figures'), class: 'chart' });
  RATES.forEach((r, i) => svg.append(s('rect', { x: left + i * 130, y: 2, width: 10, height: 10, class: 'bar-' + r }),
    s('text', { x: left + i * 130 + 14, y: 11, class: 'legend' }, t(r))));
  rows.forEach((row, j) => {
    const y0 = 24 + j * rowH;
    svg.append(s('text', { x: left - 6, y: y0 + 26, 'text-anchor': 'end', class: 'label' }, `${label(row.key)} ${row.period === 'all' ? '' : row.period}`));
    RATES.forEach((r, i) => {
      const v = row[r];
      const w = v.permille === null || v.permille === undefined ? 0 : (v.permille / 1000) * width;
      const bar = s('rect', { x: left, y: y0 + i * 12, width: Math.max(w, 0.5), height: 10, class: 'bar-' + r, 'data-rate': r },
        s('title', {}, `${t(r)}: ${v.count}/${v.of}${v.permille === null || v.permille === undefined ? '' : ' = ' + (v.permille / 10).toFixed(1) + '%'}`));
      svg.append(bar, s('text', { x: left + w + 4, y: y0 + i * 12 + 9, class: 'value' }, v.of ? `${(v.permille / 10).toFixed(0)}%` : '—'));
    });
  });
  return svg;
}

// ---------------------------------------------------------------- case list
async function casesPage(main) {
  main.dataset.page = 'cases';
  const q = h('input', { id: 'q', type: 'search', autocomplete: 'off' });
  const st = select('q-status', [''].concat(['received', 'dispatched', 'in_progress', 'replied', 'closed']), (v) => (v ? t('st_' + v) : '—'), '');
  const box = h('div', { id: 'case-list' });
  const load = async () => {
    const p = new URLSearchParams({ limit: '50' });
    if (q.value.trim()) p.set('q', q.value.trim());
    if (st.value) p.set('status', st.value);
    const page = await api('GET', 'cases?' + p);
    box.replaceChildren(h('table', {}, h('tbody', {}, page.items.map((c) => h('tr', { 'data-case': c.id },
      h('td', {}, h('a', { href: '#/case/' + c.id }, c.number)), h('td', {}, c.title), h('td', {}, catName(c.category)),
      h('td', {}, gridName(c.grid)), h('td', {}, statusBadge(c.status)), h('td', {}, fmtTime(c.filed_at)))))));
  };
  main.append(h('h1', {}, t('cases')), h('form', { class: 'inline card', onsubmit: (e) => { e.preventDefault(); load(); } },
    field('q', t('search_cases'), q), field('q-status', t('filter_status'), st), h('button', { type: 'submit' }, t('search'))), box);
  await load();
}

// ---------------------------------------------------------------- start
async function start() {
  $('#lang').addEventListener('click', () => {
    S.lang = S.lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('casegrid.lang', S.lang);
    render();
  });
  $('#signout').addEventListener('click', async () => {
    try { await api('DELETE', '/console/session'); } catch (_) { /* signed out anyway */ }
    S.me = null; S.csrf = null;
    location.hash = '#/signin';
  });
  try {
    const s = await api('GET', '/console/session');
    S.me = s.principal;
    S.csrf = s.csrf;
  } catch (_) { S.me = null; }
  window.addEventListener('hashchange', render);
  render();
}
start();
